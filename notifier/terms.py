"""The domain's fixed words as ``StrEnum``s: one type per kind of value, so a typo is an
attribute error, not a silent mismatch. Each member's value is the word stored in the database
and seen by templates (a ``StrEnum`` compares equal to it), so these types change no data.
"""

from __future__ import annotations

from enum import StrEnum


class DigestKind(StrEnum):
    """What a digest (one message to one department) is."""

    REMINDER = "reminder"  # a department's own items: cutoff, milestone, overdue, progress request
    ESCALATION = "escalation"  # 逾期通报 / closing report to the supervision office
    NOTICE = "notice"  # a contact broke: told to the supervision office once
    REPORT = "report"  # the 通报 by e-mail ([report])


class Role(StrEnum):
    """A department's part in a task (牵头 / 责任 / 配合)."""

    LEAD = "lead"
    RESPONSIBLE = "responsible"
    COOPERATING = "cooperating"


ROLES: tuple[Role, ...] = tuple(Role)  # in the order tables and messages list them


class MilestoneStatus(StrEnum):
    """A milestone's stored status (``milestones.status``): imported open, changed by notifier.marks."""

    OPEN = "open"
    DONE = "done"


class RowStatus(StrEnum):
    """A milestone as `notifier milestones` lists it (its ``--status`` and the JSON's ``status``):
    its stored status, or overdue when it is open and a date of it has passed."""

    OPEN = MilestoneStatus.OPEN.value
    DONE = MilestoneStatus.DONE.value
    OVERDUE = "overdue"  # the same word as Section.OVERDUE: open, and its date passed


class PlanStatus(StrEnum):
    """A plan's status (``plans.status``); changed only through notifier.plan_life."""

    ACTIVE = "active"  # reminded
    CLOSED = "closed"  # past its end plus grace (closing report sent), closed by hand, or imported late


class RequestState(StrEnum):
    """A done request (申请办结); changed only through notifier.review."""

    PENDING = "pending"  # waits for the office; the item's reminders stop meanwhile
    APPROVED = "approved"  # the item is done
    RETURNED = "returned"  # back to the department with a reason; reminders resume


class DeliveryStatus(StrEnum):
    """A delivery's status (``deliveries.status``); changed only through notifier.delivery.outbox."""

    PENDING = "pending"  # waiting for its next_attempt_at
    SENDING = "sending"  # claimed: an attempt is under way until lease_until
    SENT = "sent"
    FAILED = "failed"  # for good, out of attempts or expired; only ``requeue`` revives it


class SignState(StrEnum):
    """A 签收 request's state (``sign_requests.status``); changed only through notifier.signing."""

    ASKED = "asked"  # the reminder asked; the department has not signed yet
    SIGNED = "signed"
    LAPSED = "lapsed"  # not signed, and moot: the item was reopened after it was asked (``lapse``)


class AccountRole(StrEnum):
    """What an office account may do (``users.role``); not a department's ``Role`` in a task."""

    OFFICE = "office"  # reads and acts
    LEADER = "leader"  # reads only


class Section(StrEnum):
    """Where an item stands in a digest."""

    OVERDUE = "overdue"
    URGED = "urged"  # 催办: a yellow-grade item the ladder urges
    CUTOFF = "cutoff"  # due by the plan's next 6/9/12-month cutoff
    UPCOMING = "upcoming"  # a milestone date that is not a cutoff
    PROGRESS = "progress"  # the request to report progress (进展) on the department's other open items
    ESCALATION = "escalation"


class HistoryAction(StrEnum):
    """What a history event (``progress_events``) records."""

    DONE = "done"
    REOPEN = "reopen"
    PROGRESS = "progress"  # a progress note or report (进展): the milestone stays open
    REQUEST = "request"  # a department asks for 办结 (notifier.review): waits for the office
    RETURN = "return"  # the office sends a done request back; the note is the reason


class Source(StrEnum):
    """Through what an answer came."""

    CLI = "cli"
    IMPORT = "import"
    LINK = "link"  # a department's reply page
    OFFICE = "office"  # the office ledger's pages
    PAGE = "page"  # a department's own page (/d/…)


class Light(StrEnum):
    """An item's grade on the ladder (notifier.office.grades), stored as ``grade_steps.grade``:
    its light in the ledger, its 督办单 in the messages."""

    RED = "red"
    YELLOW = "yellow"
    BLUE = "blue"
    GREEN = "green"

    @property
    def label(self) -> str:
        return {Light.RED: "红", Light.YELLOW: "黄", Light.BLUE: "蓝", Light.GREEN: "绿"}[self]

    @property
    def meaning(self) -> str:
        return {Light.RED: "逾期督办", Light.YELLOW: "滞后催办", Light.BLUE: "临期提醒", Light.GREEN: "正常"}[self]

    @property
    def word(self) -> str:
        """The 督办单's word: in the subject, the robot title and the colour band."""
        return {Light.RED: "督办", Light.YELLOW: "催办", Light.BLUE: "提醒", Light.GREEN: ""}[self]

    @property
    def rank(self) -> int:
        """Higher is more severe: a grade above the last recorded one is a step up."""
        return {Light.GREEN: 0, Light.BLUE: 1, Light.YELLOW: 2, Light.RED: 3}[self]

    @property
    def band(self) -> str:
        """The colour band of a message in this grade (HTML)."""
        return {Light.RED: "#C62828", Light.YELLOW: "#F9A825", Light.BLUE: "#1565C0", Light.GREEN: "#2E7D32"}[self]

    @property
    def rgb(self) -> str:
        """The fill colour of the light, in the ledger page and the xlsx."""
        return {Light.RED: "F4B6B6", Light.YELLOW: "FBE7A1", Light.BLUE: "B9D7F4", Light.GREEN: "C6E8C6"}[self]
