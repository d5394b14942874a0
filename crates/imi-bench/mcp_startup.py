"""p50 of: start `imi mcp`, initialize, answer tools/list; beside `imi --version`."""
import json, subprocess, sys, time, statistics, os
imi = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
def mcp_once():
    t0 = time.perf_counter()
    p = subprocess.Popen([imi, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    def send(m): p.stdin.write(json.dumps(m) + "\n"); p.stdin.flush()
    send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})
    json.loads(p.stdout.readline())
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    r = json.loads(p.stdout.readline())
    t = time.perf_counter() - t0
    assert len(r["result"]["tools"]) == 14, r
    p.stdin.close(); p.wait()
    return t
def version_once():
    t0 = time.perf_counter(); subprocess.run([imi, "--version"], stdout=subprocess.DEVNULL, check=True); return time.perf_counter() - t0
a = []; b = []
for _ in range(n):
    a.append(mcp_once()); b.append(version_once())
pa, pb = statistics.median(a) * 1000, statistics.median(b) * 1000
print(f"imi mcp start to tools/list answer: p50 {pa:.2f} ms; imi --version: p50 {pb:.2f} ms; ratio {pa/pb:.2f}x (n={n}, interleaved)")
