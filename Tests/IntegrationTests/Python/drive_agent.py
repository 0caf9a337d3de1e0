"""Drives a Starling agent's inference API over one keep-alive connection.

    drive_agent.py PORT INPUT_NAME REQUESTS LABEL_EVERY

Sends REQUESTS infer requests with ids r0, r1, ... (64 pixel values each), and a feedback label
for every LABEL_EVERY-th id. Prints a JSON summary: answered, labelled, failures.
"""
import http.client
import json
import sys

port, input_name, requests, label_every = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
headers = {"Content-Type": "application/json"}
answered = labelled = failures = 0
for i in range(requests):
    pixels = [float((i * 7 + j) % 17) for j in range(64)]
    body = json.dumps({"id": f"r{i}", "inputs": [{"name": input_name, "shape": [1, 64], "datatype": "FP32", "data": pixels}]})
    connection.request("POST", "/v2/models/digits/infer", body, headers)
    reply = connection.getresponse()
    reply.read()
    if reply.status == 200:
        answered += 1
    else:
        failures += 1
    if i % label_every == 0:
        connection.request("POST", "/v2/models/digits/feedback", json.dumps({"id": f"r{i}", "label": str(i % 10)}), headers)
        reply = connection.getresponse()
        reply.read()
        if reply.status == 200:
            labelled += 1
        else:
            failures += 1
print(json.dumps({"answered": answered, "labelled": labelled, "failures": failures}))
