"""The referral service.

The partner directory and closed-loop referrals with consent-limited sharing.
"""
