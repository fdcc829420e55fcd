async def test_intake_answers_its_probes(api):
    assert (await api.get("/intake/healthz")).json()["status"] == "ok"
    ready = await api.get("/intake/readyz")
    assert ready.status_code == 200, ready.text
