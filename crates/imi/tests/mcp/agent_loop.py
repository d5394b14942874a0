"""An agent's whole loop against `imi mcp`, driven by the official Python MCP SDK.

Run by crates/imi/tests/e2e/mcp.rs: python agent_loop.py IMI_BINARY TRUNK_DIR
(the environment is the test world's: HOME, the registry, a fixed git author).
Every step's result is asserted; any failure raises, and the exit status is 1.
"""

import asyncio
import os
import subprocess
import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

IMI, TRUNK = sys.argv[1], sys.argv[2]

TOOLS = {
    "list_projects", "list_worktrees", "inflight", "resolve_path", "create_worktree",
    "review_pr", "sync", "claim", "renew", "release", "log_activity", "merge", "remove",
    "events_since",
}


def server(agent):
    env = dict(os.environ, IMI_AGENT_ID=agent)
    # IMI_MCP_ARGS: e.g. "--remote http://127.0.0.1:PORT" (the same loop through imi serve)
    extra = os.environ.get("IMI_MCP_ARGS", "").split()
    return StdioServerParameters(command=IMI, args=["mcp", *extra], env=env, cwd=TRUNK)


async def ok(session, tool, args):
    r = await session.call_tool(tool, args)
    assert not r.is_error, f"{tool} {args}: {r.structured_content or r.content}"
    assert isinstance(r.structured_content, dict), f"{tool}: {r}"
    return r.structured_content


async def fails(session, tool, args, code):
    r = await session.call_tool(tool, args)
    assert r.is_error, f"{tool} {args} should fail with {code}: {r.structured_content}"
    err = r.structured_content
    assert err["code"] == code, f"{tool} {str(args)[:200]}: {err}"
    assert err["message"], err
    # the server keeps serving
    await ok(session, "list_projects", {})
    return err


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


async def agent_loop():
    async with stdio_client(server("agent-loop")) as (read, write):
        async with ClientSession(read, write) as s:
            init = await s.initialize()
            assert init.server_info.name == "imi", init

            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert set(tools) == TOOLS, sorted(tools)
            assert tools["list_projects"].annotations.read_only_hint is True
            assert tools["merge"].annotations.destructive_hint is True
            assert "explanation" in tools["claim"].input_schema["properties"]

            projects = (await ok(s, "list_projects", {}))["projects"]
            assert [p["name"] for p in projects] == ["app"], projects

            made = await ok(s, "create_worktree", {
                "type": "feat", "name": "loop", "explanation": "start the loop task"})
            path = made["path"]
            assert made["worktree"]["name"] == "feat-loop", made
            assert os.path.isdir(path), path

            claimed = await ok(s, "claim", {
                "worktree": "feat-loop", "ttl_seconds": 600, "purpose": "the loop"})
            assert claimed["agent_id"] == "agent-loop" and claimed["epoch"] == 1, claimed
            assert claimed["held"] is True, claimed

            with open(os.path.join(path, "loop.txt"), "w") as f:
                f.write("done\n")
            git(path, "add", "loop.txt")
            git(path, "commit", "-q", "-m", "the loop")

            synced = await ok(s, "sync", {})
            assert synced["summary"]["synced"] >= 2, synced

            inflight = (await ok(s, "inflight", {}))["inflight"]
            mine = [e for e in inflight if e["worktree_name"] == "feat-loop"]
            assert len(mine) == 1, inflight
            assert mine[0]["ahead"] == 1 and mine[0]["status"] == "ahead", mine
            assert mine[0]["claim"]["agent_id"] == "agent-loop", mine

            listed = (await ok(s, "list_worktrees", {}))["worktrees"]
            assert {w["name"]: w["claimed_by"] for w in listed}["feat-loop"] == "agent-loop"
            where = await ok(s, "resolve_path", {"worktree": "feat-loop"})
            assert where["path"] == path, where

            logged = await ok(s, "log_activity", {
                "worktree": "feat-loop", "activity_type": "committed",
                "description": "wrote loop.txt"})
            assert logged["activity"]["agent_id"] == "agent-loop", logged

            merged = await ok(s, "merge", {"worktree": "feat-loop"})
            assert merged["merge_commit"], merged
            assert not os.path.exists(path), path

            released = await ok(s, "release", {"worktree": "feat-loop"})
            assert released["held"] is False and released["released_at"], released

            events = (await ok(s, "events_since", {"since": 0}))["events"]
            kinds = [e["type"] for e in events]
            for k in ["imi.worktree.created", "imi.claim.claimed", "imi.worktree.git_state",
                      "imi.worktree.merged", "imi.claim.released"]:
                assert k in kinds, (k, kinds)
            explained = [e for e in events if e["type"] == "imi.activity.logged"
                         and e["payload"].get("description") == "create_worktree: start the loop task"]
            assert len(explained) == 1, kinds

            # bad input: a tool error each time, and the server keeps serving
            await fails(s, "create_worktree", {"type": 5, "name": []}, "VALIDATION_ERROR")
            await fails(s, "create_worktree", {}, "VALIDATION_ERROR")
            await fails(s, "claim", {"worktree": "feat-nope"}, "NOT_FOUND")
            await fails(s, "claim", {"worktree": "feat-loop", "surprise": 1}, "VALIDATION_ERROR")
            await fails(s, "log_activity", {
                "activity_type": "other", "description": "x" * 1_000_000}, "VALIDATION_ERROR")
            await fails(s, "resolve_path", {"worktree": "../../etc"}, "VALIDATION_ERROR")
            await fails(s, "resolve_path", {"worktree": "/etc/passwd"}, "VALIDATION_ERROR")
            await fails(s, "events_since", {"types": ["imi.nope"]}, "VALIDATION_ERROR")
            await fails(s, "no_such_tool", {}, "NOT_FOUND")
            print("agent loop: every step passed")


async def two_agents_race():
    async with stdio_client(server("agent-setup")) as (read, write):
        async with ClientSession(read, write) as s:
            await s.initialize()
            await ok(s, "create_worktree", {"type": "fix", "name": "race"})

    async def claim(agent, ready, go):
        async with stdio_client(server(agent)) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                ready.set()
                await go.wait()
                return agent, await s.call_tool("claim", {"worktree": "fix-race"})

    ready = [asyncio.Event(), asyncio.Event()]
    go = asyncio.Event()
    tasks = [asyncio.create_task(claim(a, r, go)) for a, r in zip(["agent-x", "agent-y"], ready)]
    for r in ready:
        await r.wait()
    go.set()
    results = await asyncio.gather(*tasks)
    won = [a for a, r in results if not r.is_error]
    lost = [(a, r.structured_content) for a, r in results if r.is_error]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0][1]["code"] == "CONFLICT", lost
    assert won[0] in lost[0][1]["message"], lost
    print(f"two agents: {won[0]} won, the other got CONFLICT naming it")


asyncio.run(agent_loop())
asyncio.run(two_agents_race())
