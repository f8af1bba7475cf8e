"""Hook implementations of the classification plugin (entry point ``classification``)."""

from __future__ import annotations

from modellab import hookimpl
from modellab.tasks import Evaluator, ModelVariant, Slicer, TaskType, Template, deferred
from modellab_classification.configs import (
    CharWordSvmConfig,
    LogisticRegressionConfig,
    MostFrequentConfig,
    TfidfLogisticConfig,
    TfidfSvdMlpConfig,
    XGBoostClassifierConfig,
)
from modellab_tabular.slicers import KEY_FEATURE, MISSINGNESS

TASK = "classification"
#: the prior-class baseline of both templates
MOST_FREQUENT = ModelVariant(
    "most_frequent",
    "baseline",
    deferred("modellab_classification.models:fit_most_frequent"),
    MostFrequentConfig,
    "Predicts the most frequent training class, with the training class shares as probabilities.",
    load=deferred("modellab_tabular.fitted:load_pipeline"),
)


@hookimpl
def register_task_types() -> list[TaskType]:
    """Classification: a class label per row."""
    return [
        TaskType(
            name=TASK,
            description="Predict a class label for each row.",
            check_target=deferred("modellab_classification.task:check_target"),
            target_affinity=deferred("modellab_classification.task:target_affinity"),
            profile_target=deferred("modellab_classification.task:profile_target"),
            cast_target=deferred("modellab_classification.task:cast_target"),
            predict=deferred("modellab_classification.task:predict"),
            labels=True,
            check_train=deferred("modellab_classification.task:check_train"),
            find_leaks=deferred("modellab_classification.task:find_leaks"),
            paired_deltas=deferred("modellab_classification.task:paired_deltas"),
            unit_failures=deferred("modellab_classification.task:unit_failures"),
        )
    ]


@hookimpl
def register_templates() -> list[Template]:
    """The tabular and text classification templates, baselines first."""
    return [
        Template(
            name="tabular-classification",
            task_type=TASK,
            description="Classify rows of a table.",
            variants=(
                MOST_FREQUENT,
                ModelVariant(
                    "logistic_regression",
                    "baseline",
                    deferred("modellab_classification.models:fit_logistic_regression"),
                    LogisticRegressionConfig,
                    "Logistic regression on imputed, scaled, one-hot encoded features.",
                    load=deferred("modellab_tabular.fitted:load_pipeline"),
                ),
                ModelVariant(
                    "xgboost",
                    "candidate",
                    deferred("modellab_classification.models:fit_xgboost"),
                    XGBoostClassifierConfig,
                    "XGBoost with native categoricals and early stopping.",
                    load=deferred("modellab_tabular.fitted:load_booster"),
                ),
            ),
        ),
        Template(
            name="text-classification",
            task_type=TASK,
            description="Classify rows by their free text (columns of role text), with "
            "any tabular features beside it.",
            input_roles=("feature", "text"),
            variants=(
                MOST_FREQUENT,
                ModelVariant(
                    "tfidf_logistic",
                    "baseline",
                    deferred("modellab_classification.text:fit_tfidf_logistic"),
                    TfidfLogisticConfig,
                    "TF-IDF of word 1- and 2-grams, then multinomial logistic regression.",
                    load=deferred("modellab_classification.text:load_text_pipeline"),
                ),
                ModelVariant(
                    "char_word_tfidf_calibrated_svm",
                    "candidate",
                    deferred("modellab_classification.text:fit_char_word_svm"),
                    CharWordSvmConfig,
                    "Character 2-5-grams and word 1-2-grams, a linear SVM, sigmoid-calibrated "
                    "probabilities.",
                    load=deferred("modellab_classification.text:load_text_pipeline"),
                ),
                ModelVariant(
                    "tfidf_svd_mlp",
                    "candidate",
                    deferred("modellab_classification.text:fit_tfidf_svd_mlp"),
                    TfidfSvdMlpConfig,
                    "Word TF-IDF into TruncatedSVD embeddings learned on the train texts, then "
                    "a one-hidden-layer network.",
                    load=deferred("modellab_classification.text:load_text_pipeline"),
                ),
            ),
        ),
    ]


@hookimpl
def register_evaluators() -> list[Evaluator]:
    """EvalHarness' classification evaluation."""
    return [
        Evaluator(
            "evalharness-classification",
            TASK,
            deferred("modellab_classification.evaluator:evaluate"),
            "EvalHarness classification report.",
        )
    ]


@hookimpl
def register_slicers() -> list[Slicer]:
    """EvalHarness' classification slices, in report order: confidence deciles,
    missingness, the key feature, each true class; for a run with free text, its
    length and its share of words unseen in training; and out-of-scope queries apart."""
    return [
        Slicer(
            "confidence_decile",
            deferred("modellab_classification.slicers:by_confidence_decile"),
            (TASK,),
            "Deciles of the predicted class's probability.",
        ),
        MISSINGNESS,
        KEY_FEATURE,
        Slicer(
            "class",
            deferred("modellab_classification.slicers:by_class"),
            (TASK,),
            "Each true class (the 3 most frequent when there are more than 5).",
        ),
        Slicer(
            "text_length",
            deferred("modellab_classification.slicers:by_text_length"),
            (TASK,),
            "Terciles of the number of words of a run's free text (text runs only).",
        ),
        Slicer(
            "text_out_of_vocabulary",
            deferred("modellab_classification.slicers:by_out_of_vocabulary"),
            (TASK,),
            "Rows by the share of their words no training text holds (text runs only).",
        ),
        Slicer(
            "out_of_scope",
            deferred("modellab_classification.slicers:by_out_of_scope"),
            (TASK,),
            "Queries of an out-of-scope class (oos, out_of_scope) and the rest, with how "
            "often each is confidently misclassified.",
        ),
    ]
