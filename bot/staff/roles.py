"""A person's roles, read the strictest way.

A member of staff holds a main role (their home page) and may hold others besides
(StaffMember.holds). A route opens to anyone holding one of its roles; what a page shows then
follows the role it is read as, never the sum of their roles: an admin who is also an IRO reads
the child's words of their own reviews, as their IRO, and no others; an admin's pages show no
child's words to anyone.
"""

from __future__ import annotations

from storage.models import Review, StaffMember

# Each role's home page: /staff for their main role, /staff?as=<role> for the others they hold.
BOARD_NAMES = {
    "iro": "My reviews",
    "duty": "Alerts",
    "participation": "Participation",
    "admin": "Administration",
}


def board_of(member: StaffMember, asked: str) -> str:
    """The board to show: `asked` if they hold that role, else their main role's."""
    return asked if asked in BOARD_NAMES and member.holds(asked) else member.role


def board_url(member: StaffMember, role: str, **query: str) -> str:
    """The address of `role`'s board for this person (their main role's is /staff)."""
    params = ({} if role == member.role else {"as": role}) | {k: v for k, v in query.items() if v}
    return "/staff" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def is_their_iro(member: StaffMember, review: Review) -> bool:
    """They hold the IRO role and the review is theirs (its IRO's email is their account's)."""
    return member.holds("iro") and review.iro_email.strip().lower() == member.email


def alert_role(member: StaffMember) -> str:
    """What a person reads and changes an alert as: the duty team if they are on it (they see
    every alert), else the IRO of its review."""
    return "duty" if member.holds("duty") else "iro"
