"""Stock tritonclient[http] against a running starling-agent.

Usage: tritonclient_check.py HOST:PORT MODEL DIGITS_CSV
Prints one JSON object with what it saw; exits non-zero (with the reason on stderr) when
anything disagrees with the Open Inference Protocol or with the model's own answers.
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main():
    url, model, csv_path = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = np.loadtxt(csv_path, delimiter=",", skiprows=1, max_rows=8, dtype=np.float32)
    pixels, labels = rows[:, :64], rows[:, 64].astype(int)

    client = httpclient.InferenceServerClient(url=url)
    report = {}
    report["live"] = client.is_server_live()
    report["ready"] = client.is_server_ready()
    report["model_ready"] = client.is_model_ready(model)
    report["unknown_model_ready"] = client.is_model_ready("no-such-model")
    server = client.get_server_metadata()
    report["server"] = server
    metadata = client.get_model_metadata(model)
    report["metadata"] = metadata
    if not (report["live"] and report["ready"] and report["model_ready"]) or report["unknown_model_ready"]:
        fail(f"health: {report}")
    if "binary_tensor_data" not in server.get("extensions", []):
        fail(f"server metadata lacks binary_tensor_data: {server}")
    spec = metadata["inputs"][0]
    if spec["datatype"] != "FP32" or spec["shape"] != [-1, 64]:
        fail(f"unexpected input spec {spec}")

    def infer(binary_in, binary_out, request_id):
        tensor = httpclient.InferInput(spec["name"], list(pixels.shape), "FP32")
        tensor.set_data_from_numpy(pixels, binary_data=binary_in)
        outputs = [
            httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
            httpclient.InferRequestedOutput("label", binary_data=binary_out),
        ]
        result = client.infer(model, [tensor], outputs=outputs, request_id=request_id)
        response = result.get_response()
        if response.get("id") != request_id:
            fail(f"request id not echoed: {response}")
        return result.as_numpy("probabilities"), result.as_numpy("label")

    json_probs, json_labels = infer(False, False, "json-1")
    bin_probs, bin_labels = infer(True, True, "bin-1")
    if json_probs.shape != (8, 10) or json_probs.dtype != np.float32:
        fail(f"JSON probabilities have shape {json_probs.shape} {json_probs.dtype}")
    if not np.array_equal(json_probs, bin_probs):
        fail(f"JSON and binary answers differ:\n{json_probs}\n{bin_probs}")
    decoded = [x.decode() if isinstance(x, bytes) else str(x) for x in bin_labels.reshape(-1)]
    if decoded != [str(i) for i in json_probs.argmax(axis=1)]:
        fail(f"labels {decoded} do not match the arg max of the probabilities")
    json_decoded = [x.decode() if isinstance(x, bytes) else str(x) for x in json_labels.reshape(-1)]
    if json_decoded != decoded:
        fail(f"JSON labels {json_decoded} differ from binary labels {decoded}")

    # The client's defaults: binary input, no outputs named (binary_data_output for all).
    tensor = httpclient.InferInput(spec["name"], list(pixels.shape), "FP32")
    tensor.set_data_from_numpy(pixels)
    default = client.infer(model, [tensor])
    if not np.array_equal(default.as_numpy("probabilities"), bin_probs):
        fail("default-options answer differs")

    # A wrong shape is an InferenceServerException carrying the server's message.
    bad = httpclient.InferInput(spec["name"], [1, 63], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 63), dtype=np.float32))
    try:
        client.infer(model, [bad])
        fail("a wrong shape was accepted")
    except InferenceServerException as error:
        report["bad_shape_error"] = error.message()

    report["probabilities"] = bin_probs.tolist()
    report["labels"] = decoded
    report["accuracy_on_8"] = float((np.array([int(x) for x in decoded]) == labels).mean())
    print(json.dumps(report))


if __name__ == "__main__":
    main()
