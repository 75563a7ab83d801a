"""The days of papers the feedback end-to-end tests (Slack and Discord) post and vote on:
two kinds of Mixture-of-Experts papers, so that a channel's votes can move one kind above
the other, and a day's spread of unrelated fields."""

from pathlib import Path

OTHERS = 4  # papers a day in each other field
FIELDS = [
    ("Graph Neural Networks", "molecules", "message passing over atoms and bonds"),
    ("Reinforcement Learning", "robot arms", "rewards for grasping and placing objects"),
    ("Protein Folding", "amino acids", "predicted residue contacts and structures"),
    ("Time Series Forecasting", "electricity demand", "seasonal load curves of households"),
    ("Recommender Systems", "shoppers", "clicks and purchases in online stores"),
    ("Weather Prediction", "storms", "satellite rainfall and wind fields"),
    ("Code Search", "repositories", "functions retrieved from docstrings"),
    ("Federated Optimization", "phones", "private updates averaged on a server"),
    ("Causal Inference", "treatments", "confounders in observational cohorts"),
    ("Quantum Circuits", "qubits", "gate noise on superconducting chips"),
    ("Legal Documents", "contracts", "clauses extracted from court filings"),
    ("Music Generation", "melodies", "chords and rhythm of piano pieces"),
]


def dump(tmp_path: Path, day: int, others: int = OTHERS) -> Path:
    """`day`'s new papers as a papers-page dump: Mixture-of-Experts papers about speech and
    about vision, one about tabular data cleaning, and `others` papers in each of a dozen
    other fields (a day's usual spread)."""
    speech = [
        f"Mixture-of-Experts Acoustic Models {day}.{i} for Streaming Speech Recognition\n\n"
        f"We propose a Mixture-of-Experts (MoE) acoustic model {i} for streaming speech "
        "recognition: a gate routes each audio frame to two experts of a conformer encoder, "
        "lowering the word error rate on spoken utterances, phonemes and transcripts."
        for i in range(3)
    ]
    vision = [
        f"Mixture-of-Experts Vision Transformers {day}.{i} for Image Classification\n\n"
        f"We propose a Mixture-of-Experts (MoE) vision transformer {i} for image "
        "classification: a gate routes each image patch to two experts, improving ImageNet "
        "accuracy on pixels, object detection and segmentation of photographs."
        for i in range(3)
    ]
    other = [
        f"Rule-Based Tabular Data Cleaning {day}\n\n"
        "We describe a rule engine for tabular data cleaning that finds inconsistent rows."
    ] + [
        f"{field} for {what.title()} {day}.{i}\n\n"
        f"We study {field.lower()} on {what}, modelling {detail} in study {i}."
        for field, what, detail in FIELDS
        for i in range(others)
    ]
    path = tmp_path / f"day{day}.txt"
    path.write_text("new\n\nNov 23\n\n" + "\n\n".join(speech + vision + other) + "\n")
    return path
