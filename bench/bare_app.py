"""The ingest baseline: a bare Flask endpoint at the connector's path that reads the body and answers 200.

Served by gunicorn with the Procfile's settings (bench/ingest.py does that), it measures what Flask,
gunicorn and the load generator cost on their own, so the connector's figures can be read against it.
"""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/webhooks/<platform>")
def receive(platform: str):
    request.get_data(cache=False)
    return jsonify(outcome="bare"), 200


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")
