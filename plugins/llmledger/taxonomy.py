"""The activity taxonomy: every dollar ends in exactly one of these."""

from __future__ import annotations

DATA_ACTIVITIES = (
    "data.acquisition",
    "data.selection",
    "data.transformation",
    "data.generation",
    "data.human",
)
TRAINING_ACTIVITIES = (
    "training.pretrain",
    "training.midtrain",
    "training.sft",
    "training.preference",
    "training.rl",
)
OTHER_ACTIVITIES = ("evaluation", "overhead", "idle", "untagged")
ACTIVITIES = DATA_ACTIVITIES + TRAINING_ACTIVITIES + OTHER_ACTIVITIES

# Activities a tag or config rule may name: idle and untagged are assigned by the system only.
TAGGABLE_ACTIVITIES = DATA_ACTIVITIES + TRAINING_ACTIVITIES + ("evaluation", "overhead")


def activity_group(activity: str) -> str:
    """'data', 'training' or the activity itself for everything else."""
    if activity in DATA_ACTIVITIES:
        return "data"
    if activity in TRAINING_ACTIVITIES:
        return "training"
    return activity
