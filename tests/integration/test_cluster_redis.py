async def test_a_window_checks_and_records_apart(make_node: MakeNode) -> None:
    window = (await make_node()).window("login-address", 2, 60.0)
    assert await window.wait("1.2.3.4") == 0
    await window.record("1.2.3.4")
    await window.record("1.2.3.4")
    await window.record("1.2.3.4")  # whatever the count
    assert 1 <= await window.wait("1.2.3.4") <= 60
    assert (await window.reserve("1.2.3.4"))[1] is None
