"""The controller's states and the events that move it between them (on `transitions`).

Flat machine, enum states, queued triggers. Triggers fire on events (supply good, phase done,
fault), never once per tick: a trigger costs microseconds, the pump loop runs 500 times a second.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from transitions import Machine


class State(Enum):
    WAIT_SUPPLY = "wait_supply"      # heater off until the supply is in range and heating allowed
    CONDENSATION = "condensation"    # <= 2 V while water may be present
    RAMP = "ramp"                    # from <= 8.5 V at <= 0.4 V/s
    CLOSED_LOOP = "closed_loop"      # temperature loop; pump loop; lambda valid when settled
    FAULT = "fault"                  # outputs safe; retried after a pause unless latched
    STOPPED = "stopped"              # outputs safe until started again


HEATING = [State.CONDENSATION, State.RAMP, State.CLOSED_LOOP]

TRANSITIONS = [
    {"trigger": "supply_ok", "source": State.WAIT_SUPPLY, "dest": State.CONDENSATION, "unless": "is_warm"},
    {"trigger": "supply_ok", "source": State.WAIT_SUPPLY, "dest": State.RAMP, "conditions": "is_warm"},
    {"trigger": "condensation_done", "source": State.CONDENSATION, "dest": State.RAMP},
    {"trigger": "heated", "source": State.RAMP, "dest": State.CLOSED_LOOP},
    {"trigger": "cooled", "source": State.CLOSED_LOOP, "dest": State.RAMP},
    # The ECU withdrew the heater allow (heater_allow = "can"): back to the condensation voltage.
    {"trigger": "disallowed", "source": [State.RAMP, State.CLOSED_LOOP], "dest": State.CONDENSATION},
    {"trigger": "supply_lost", "source": HEATING, "dest": State.WAIT_SUPPLY},
    {"trigger": "fault", "source": [State.WAIT_SUPPLY, *HEATING], "dest": State.FAULT},
    {"trigger": "retry", "source": State.FAULT, "dest": State.WAIT_SUPPLY},
    {"trigger": "stop", "source": [State.WAIT_SUPPLY, *HEATING, State.FAULT], "dest": State.STOPPED},
    {"trigger": "start", "source": State.STOPPED, "dest": State.WAIT_SUPPLY},
]


def build_machine(model: object, initial: State = State.WAIT_SUPPLY) -> Machine:
    return Machine(model=model, states=State, transitions=TRANSITIONS, initial=initial,
                   auto_transitions=False, queued=True, send_event=False)


class _DiagramModel:
    get_graph: Callable[..., Any]   # added by GraphMachine when the model is attached

    def is_warm(self) -> bool:
        return False


def mermaid_diagram() -> str:
    """The state diagram as mermaid text, drawn by transitions' own GraphMachine (mermaid engine,
    no graphviz needed) from the same TRANSITIONS the firmware runs."""
    from transitions.extensions import GraphMachine

    model = _DiagramModel()
    GraphMachine(model=model, states=State, transitions=TRANSITIONS, initial=State.WAIT_SUPPLY,
                 auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                 title="lambdarig controller")
    text = model.get_graph().draw(None)
    # transitions writes its title as bare front matter; mermaid wants `title:` inside it.
    lines = text.splitlines()
    if len(lines) > 2 and lines[0] == "---" and lines[2] == "---" and ":" not in lines[1]:
        lines[1] = f"title: {lines[1]}"
    return "\n".join(lines) + "\n"


def state_doc() -> str:
    """docs/controller-states.md, generated: `python -m controller.statemachine > docs/controller-states.md`."""
    return ("# Controller states\n\n"
            "Generated from `controller/statemachine.py` by `python -m controller.statemachine`; "
            "a test keeps it in step with the code.\n\n"
            "```mermaid\n" + mermaid_diagram().rstrip() + "\n```\n")


if __name__ == "__main__":
    print(state_doc(), end="")
