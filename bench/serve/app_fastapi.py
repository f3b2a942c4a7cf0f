"""The bare FastAPI endpoint of the serving benchmark: the floor a model server is
measured against. Runs in ``bench/.venvs/fastapi`` under uvicorn (uvloop, httptools):

    BENCH_MODEL=model.joblib uvicorn app_fastapi:sync_app   # def predict (thread pool)
    BENCH_MODEL=model.joblib uvicorn app_fastapi:async_app  # async def predict (on the loop)

``POST /predict`` takes ``{"inputs": [[30 numbers], ...]}`` and answers
``{"predictions": [...]}``: no checks, no logging, no routing.
"""

import os
import warnings

import joblib
import numpy as np
from fastapi import FastAPI

# the models were fitted on a DataFrame; the endpoint hands them an array, as loopml does
warnings.filterwarnings("ignore", message="X does not have valid feature names")
model = joblib.load(os.environ["BENCH_MODEL"])
sync_app = FastAPI()
async_app = FastAPI()


@sync_app.post("/predict")
def predict(body: dict) -> dict:
    return {"predictions": model.predict(np.asarray(body["inputs"], dtype=np.float64)).tolist()}


@async_app.post("/predict")
async def predict_async(body: dict) -> dict:
    return {"predictions": model.predict(np.asarray(body["inputs"], dtype=np.float64)).tolist()}
