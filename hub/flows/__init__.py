"""Studio flows: the flow document (:mod:`hub.flows.document`), business hours
(:mod:`hub.flows.hours`), templating (:mod:`hub.flows.template`) and the pure interpreter
(:mod:`hub.flows.engine`). No I/O here: the web layer runs flows and stores their runs."""
