"""Seeds the hub benchmark's registries through their REST APIs (standard library only).

    seed.py hub URL TOKEN MODEL_FILE MODELS VERSIONS PATHS_DIR
    seed.py mlflow URL MODELS VERSIONS PATHS_DIR

Creates MODELS registered models (model-000, ...) with VERSIONS versions each, 8 requests at a
time, then writes the three path lists wrk rotates through: PATHS_DIR/<side>-list.txt,
<side>-get.txt, <side>-version.txt. Prints one JSON line: what was created and how long it took.

Hub: POST /api/v1/models, then POST /api/v1/models/{name}/versions?version=1.0.V with the model
file as the body (the hub packages, compresses and signs each one). MLflow: registered-models/
create, then model-versions/create with a remote-looking `source` string (MLflow stores it; a
local path would need a run).
"""

import json
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def call(url, method="GET", body=None, headers=None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.read()


def hub(url, token, model_file, models, versions, paths):
    auth = {"Authorization": f"Bearer {token}"}
    data = open(model_file, "rb").read()
    names = [f"model-{i:03d}" for i in range(models)]

    def create(name):
        body = json.dumps({"name": name, "description": "benchmark model", "owner": "bench"}).encode()
        call(f"{url}/api/v1/models", "POST", body, {**auth, "Content-Type": "application/json"})
        for v in range(versions):
            call(f"{url}/api/v1/models/{name}/versions?version=1.0.{v}", "POST", data,
                 {**auth, "Content-Type": "application/octet-stream"})  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, names))
    write(paths, "hub", ["/api/v1/models?limit=50"], [f"/api/v1/models/{n}" for n in names],
          [f"/api/v1/models/{n}/versions/1.0.{v}" for n in names for v in range(versions)])  # fmt: skip


def mlflow(url, models, versions, paths):
    api = f"{url}/api/2.0/mlflow"
    json_header = {"Content-Type": "application/json"}
    names = [f"model-{i:03d}" for i in range(models)]

    def create(name):
        call(f"{api}/registered-models/create", "POST",
             json.dumps({"name": name, "description": "benchmark model"}).encode(), json_header)  # fmt: skip
        for v in range(versions):
            body = {"name": name, "source": f"s3://starling-bench/{name}/{v + 1}", "description": "benchmark version"}
            call(f"{api}/model-versions/create", "POST", json.dumps(body).encode(), json_header)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, names))
    write(paths, "mlflow", ["/api/2.0/mlflow/registered-models/search?max_results=50"],
          [f"/api/2.0/mlflow/registered-models/get?name={n}" for n in names],
          [f"/api/2.0/mlflow/model-versions/get?name={n}&version={v + 1}" for n in names for v in range(versions)])  # fmt: skip


def write(directory, side, listing, gets, versions):
    for kind, paths in (("list", listing), ("get", gets), ("version", versions)):
        with open(f"{directory}/{side}-{kind}.txt", "w") as f:
            f.write("\n".join(paths) + "\n")


def main():
    side = sys.argv[1]
    start = time.monotonic()
    if side == "hub":
        url, token, model_file, models, versions, paths = sys.argv[2:8]
        hub(url, token, model_file, int(models), int(versions), paths)
    else:
        url, models, versions, paths = sys.argv[2:6]
        mlflow(url, int(models), int(versions), paths)
    print(json.dumps({"section": "hub", "case": "api_seed", "side": side, "models": int(models),
                      "versions_per_model": int(versions), "seconds": round(time.monotonic() - start, 2)}))  # fmt: skip


if __name__ == "__main__":
    main()
