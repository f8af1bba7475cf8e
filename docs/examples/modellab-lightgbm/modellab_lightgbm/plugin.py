"""Hook implementations of modellab-lightgbm (entry point ``lightgbm``).

Discovering plugins (every ModelLab command) imports this module: it names its
functions through ``deferred("module:function")``, so LightGBM, pandas and the model
code load only when a run fits or loads a model, or slices a report.
"""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import ModelVariant, Slicer, TemplateVariant, deferred

from modellab_lightgbm.config import LightGBMConfig

#: the built-in template this plugin adds a model to, and its task type
TEMPLATE = "tabular-classification"
TASK = "classification"

LIGHTGBM = ModelVariant(
    "lightgbm",
    "candidate",
    deferred("modellab_lightgbm.model:fit_lightgbm"),
    LightGBMConfig,
    "LightGBM: leaf-wise gradient-boosted trees with native categorical splits.",
    load=deferred("modellab_lightgbm.model:load_lightgbm"),
)
ANY_MISSING = Slicer(
    "any_missing",
    deferred("modellab_lightgbm.slicers:by_any_missing"),
    (TASK,),
    "Rows with at least one missing feature, and rows with none.",
)


@hookimpl
def register_model_variants() -> list[TemplateVariant]:
    """LightGBM, one more candidate of the tabular classification template."""
    return [TemplateVariant(TEMPLATE, LIGHTGBM)]


@hookimpl
def register_slicers() -> list[Slicer]:
    """Missing features or none, for classification reports."""
    return [ANY_MISSING]
