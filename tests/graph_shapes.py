"""Shared fixtures: column graphs named after their shape, with cell-by-cell and full-column columns mixed.

    chain            topic -> question -> answer -> word_count
    fan_out_fan_in   persona -> {bio, hobby, age} -> profile
    diamond          product -> {review, price} -> verdict

Cell-by-cell columns (the LLM-like ones) are ``question``, ``answer``, ``bio``, ``hobby``,
``profile`` and ``review``; the others are full-column (samplers, expressions).
"""

from __future__ import annotations

import pytest

from dagen.config.columns import GenerationStrategy
from dagen.graph import ColumnGraph

CELL = GenerationStrategy.CELL_BY_CELL
FULL = GenerationStrategy.FULL_COLUMN


@pytest.fixture
def chain() -> ColumnGraph:
    return ColumnGraph.from_edges(
        {"topic": [], "question": ["topic"], "answer": ["question"], "word_count": ["answer"]},
        {"topic": FULL, "question": CELL, "answer": CELL, "word_count": FULL},
    )


@pytest.fixture
def fan_out_fan_in() -> ColumnGraph:
    return ColumnGraph.from_edges(
        {
            "persona": [],
            "bio": ["persona"],
            "hobby": ["persona"],
            "age": ["persona"],
            "profile": ["bio", "hobby", "age"],
        },
        {"persona": FULL, "bio": CELL, "hobby": CELL, "age": FULL, "profile": CELL},
    )


@pytest.fixture
def diamond() -> ColumnGraph:
    return ColumnGraph.from_edges(
        {
            "product": [],
            "review": ["product"],
            "price": ["product"],
            "verdict": ["review", "price"],
        },
        {"product": FULL, "review": CELL, "price": FULL, "verdict": FULL},
    )
