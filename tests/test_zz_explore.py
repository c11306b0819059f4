from tests.test_ratings import invited

async def test_explore(h, sims):
    await invited(h, sims, h.services.ratings)
    for m in ["嗯", "评价", "嗯", "5"]:
        print(">", m); print(await h.say(m))
    assert 0
