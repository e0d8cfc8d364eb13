"""fairdd: fair dataset distillation (vanilla, Uniform DD, FairDD, COBRA barycenter alignment).

    train = fairdd.datasets.load("colored-mnist-5k", split="train", bias=0.9)
    result = fairdd.distill(train, method="dm", target="cobra", ipc=10, preset="demo")
    report = fairdd.evaluate(result, test, n_models=5, preset="demo")
"""
from . import datasets
from .config import DistillConfig, EvalConfig, distill_config, eval_config
from .data import GroupedDataset
from .distill import Distiller, StepInfo, distill
from .evaluate import FairnessReport, TrainedModels, evaluate, random_subset, score, train_models
from .metrics import group_metrics
from .results import DistillResult, load_result

__version__ = "0.1.0"

__all__ = ["datasets", "GroupedDataset", "DistillConfig", "EvalConfig", "distill_config", "eval_config",
           "Distiller", "StepInfo", "distill", "evaluate", "random_subset", "FairnessReport", "TrainedModels",
           "train_models", "score",
           "group_metrics", "DistillResult", "load_result", "__version__"]
