"""The topics of the development labels (../shared/relevance/README.md): each label key and
the subscription a user following it would type. One copy for every test and script that
scores against those labels."""

DEV_TOPICS: dict[str, str] = {
    "moe": "moe",
    "multitask": "multi-task learning",
    "spelling": "spelling correction",
    "translation": "machine translation",
    "speech": "speech",
    "medical": "medical",
    "code": "code generation",
}
