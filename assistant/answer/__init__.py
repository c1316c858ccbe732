"""Stage 7, answer: exact, cited answers from the facts and the retrieved clauses, or an honest abstention.

The default path is extractive: a figure is only ever quoted from the sentence that states it.
Modules: question (parse once), evidence (retrieve once), routes (which handler), one module per
kind of handler, drafts (the one place a draft becomes an `Answer`).
"""

from ..errors import QuestionError
from .assistant import Assistant
from .drafts import NOT_STATED
from .question import Question
from .routes import ROUTES, Route

__all__ = ["NOT_STATED", "ROUTES", "Assistant", "Question", "QuestionError", "Route"]
