"""Cross-node event latency in a Switchboard cluster (docs/benchmarks.md, "Cluster").

A Direct Line customer posts on node A while its stream is open on node B. Measured from the
moment the POST is sent: when its 2xx comes back from A (stored there), and when its frame
arrives on B's stream (NOTIFY sb_activity at A's commit, B reads the activity, B's socket). The
frame often arrives before the 2xx: both leave at the commit. The bot's echo is ignored.

    python cross_node.py POST_NODE_URL STREAM_NODE_URL SECRET [COUNT]

Needs `websocket-client` and `requests` (pip). Prints p50, p90, p99 and max in ms.
"""
import json
import statistics
import sys
import threading
import time

import requests
import websocket

post_base, stream_base, secret = sys.argv[1], sys.argv[2], sys.argv[3]
count = int(sys.argv[4]) if len(sys.argv) > 4 else 500

token = requests.post(f"{post_base}/v3/directline/tokens/generate",
                      headers={"Authorization": f"Bearer {secret}"},
                      json={"user": {"id": "cross_node"}}).json()["token"]
auth = {"Authorization": f"Bearer {token}"}
conv = requests.post(f"{post_base}/v3/directline/conversations", headers=auth).json()
cid = conv["conversationId"]
# The stream on the other node: the URL names the balancer; ask node B for its own.
again = requests.get(f"{stream_base}/v3/directline/conversations/{cid}", headers=auth).json()
path = again["streamUrl"].split("/v3/", 1)[1]
ws_url = stream_base.replace("http://", "ws://") + "/v3/" + path

arrived = {}
ready = threading.Event()


def receive():
    ws = websocket.create_connection(ws_url)
    ready.set()
    while True:
        try:
            frame = ws.recv()
        except Exception:
            return
        if not frame:
            continue
        now = time.perf_counter()
        for a in json.loads(frame).get("activities", []):
            text = a.get("text") or ""
            if text.startswith("xnode ") and a.get("from", {}).get("id") == "cross_node":
                arrived.setdefault(text, now)


threading.Thread(target=receive, daemon=True).start()
ready.wait(10)
session = requests.Session()
latencies = []
acks = []
for i in range(count):
    text = f"xnode {i}"
    sent = time.perf_counter()
    r = session.post(f"{post_base}/v3/directline/conversations/{cid}/activities", headers=auth,
                     json={"type": "message", "from": {"id": "cross_node"}, "text": text})
    acked = time.perf_counter()
    r.raise_for_status()
    deadline = acked + 5
    while text not in arrived and time.perf_counter() < deadline:
        time.sleep(0.0002)
    acks.append((acked - sent) * 1000)
    if text in arrived:
        latencies.append((arrived[text] - sent) * 1000)
    time.sleep(0.02)

def summary(values):
    values = sorted(values)
    q = lambda p: values[min(len(values) - 1, int(p * len(values)))]
    return f"p50 {q(0.5):.2f} ms, p90 {q(0.9):.2f} ms, p99 {q(0.99):.2f} ms, max {values[-1]:.2f} ms"

print(f"post answered by node A (from sending): {summary(acks)}")
print(f"frame on node B's stream (from sending): {len(latencies)} of {count} arrived; {summary(latencies)}")
