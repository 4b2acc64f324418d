"""Studio flows: the flow document (:mod:`hub.flows.document`), business hours
(:mod:`hub.flows.hours`), templating (:mod:`hub.flows.template`) and the pure interpreter
(:mod:`hub.flows.engine`). No I/O here: the web layer runs flows and stores their runs."""

# The AI steps register their document types and handlers on import (hub/flows/ai.py).
from hub.flows import ai as ai
