"""Stage 7, answer: exact, cited answers from the facts and the retrieved clauses, or an honest abstention.

The default path is extractive: a figure is only ever quoted from the sentence that states it.
Modules: question (parse once), evidence (retrieve once), routes (which handler), one module per
kind of handler, drafts (the one place a draft becomes an `Answer`).
"""

from assistant.answer.assistant import Assistant
from assistant.answer.drafts import NOT_STATED
from assistant.answer.question import Question
from assistant.answer.routes import ROUTES, Route
from assistant.errors import QuestionError

__all__ = ["NOT_STATED", "ROUTES", "Assistant", "Question", "QuestionError", "Route"]
