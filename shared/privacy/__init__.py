"""Per-client sealing of personal data: the key vault and the sealing mapper."""

from shared.privacy.keyvault import ERASED, KeyVault
from shared.privacy.sealing import PersonalFields, SealingMapper, is_sealed, open_sealed

__all__ = ["ERASED", "KeyVault", "PersonalFields", "SealingMapper", "is_sealed", "open_sealed"]
