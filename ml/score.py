"""Azure ML scoring script for the failure model (models/failure-model-v<N>.json).

The same arithmetic as src/lib/anomaly/failure-model.ts (FailureModel.predict) and the same
contract as the local endpoint (src/emulators/ml/server.ts): a body
{"input_data": {"columns": [...], "index": [...], "data": [[...], ...]}} in, a JSON list with one
{"failureProbability", "modelVersion"} per row out. Standard library only.
"""
import glob
import json
import math
import os

model = None


def load(path):
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    if m.get("format") != "manufacturing-twins/failure-model@1":
        raise ValueError(f"{path} is not a failure model file")
    return m


def init():
    global model
    root = os.getenv("AZUREML_MODEL_DIR", ".")
    files = sorted(glob.glob(os.path.join(root, "**", "failure-model-v*.json"), recursive=True))
    if not files:
        raise FileNotFoundError(f"no failure-model-v*.json under {root}")
    model = load(files[-1])


def predict(m, features):
    logit = m["bias"]
    for name, mean, scale, weight in zip(m["features"], m["mean"], m["scale"], m["weights"]):
        x = features.get(name)
        # A missing feature counts as its training mean, as in FailureModel.predict.
        if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x):
            logit += weight * ((x - mean) / scale)
    return 1.0 / (1.0 + math.exp(-logit))


def score(m, body):
    request = json.loads(body) if isinstance(body, (str, bytes)) else body
    table = request["input_data"]
    columns = table["columns"]
    if not any(f in columns for f in m["features"]):
        raise ValueError(f"the request has none of the model's feature columns ({', '.join(m['features'])})")
    out = []
    for r, row in enumerate(table["data"]):
        if len(row) != len(columns):
            raise ValueError(f"row {r} has {len(row)} values for {len(columns)} columns")
        features = {c: v for c, v in zip(columns, row) if c in m["features"]}
        out.append({"failureProbability": round(predict(m, features), 6), "modelVersion": m["version"]})
    return out


def run(raw_data):
    return score(model, raw_data)


if __name__ == "__main__":
    # python3 ml/score.py MODEL.json < request.json: score one request locally.
    import sys

    print(json.dumps(score(load(sys.argv[1]), sys.stdin.read())))
