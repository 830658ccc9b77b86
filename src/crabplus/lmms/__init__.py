"""lmms-eval integration: the ``crabplus_avuie`` / ``crabplus_avsynth`` task groups written from local record
files (:mod:`crabplus.lmms.tasks`, no lmms-eval import needed) and the ``crabplus`` model class
(:mod:`crabplus.lmms.model`, needs lmms-eval: ``bash scripts/setup.sh lmms``)."""
