"""modellab-lightgbm: a ModelLab plugin that lives outside ModelLab's repository.

It adds a LightGBM candidate to the built-in ``tabular-classification`` template
(``register_model_variants``) and an ``any_missing`` slicer for classification reports
(``register_slicers``). ModelLab finds it through its ``modellab`` entry point
(:mod:`modellab_lightgbm.plugin`); nothing here imports LightGBM until a run fits or
loads a model.
"""
