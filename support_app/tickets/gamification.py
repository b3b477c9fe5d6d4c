"""Points and credit for support interactions (004), with a daily cap against farming.

An award never fails the ticket operation: it runs in a savepoint and a refusal or
error comes back as a reason string (the 004 surface shows it as gamificationError).
"""
from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Customer, PointsTransaction, utcnow

log = logging.getLogger(__name__)

SUPPORT_INTERACTION = "support_interaction"
TICKET_CLOSURE = "ticket_closure"
AWARDS: dict[str, tuple[int, Decimal]] = {
    SUPPORT_INTERACTION: (10, Decimal("0.20")),
    TICKET_CLOSURE: (5, Decimal("0")),
}


def award(customer_id: int, ticket_id: int, action: str) -> str | None:
    """Record the award in the ledger; return None on success, else why nothing was awarded."""
    points, credit = AWARDS[action]
    cap = int(current_app.config.get("GAMIFICATION_DAILY_CAP", 3))
    day_start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        with db.session.begin_nested():
            awarded_today = db.session.scalar(
                select(func.count(PointsTransaction.id)).where(
                    PointsTransaction.customer_id == customer_id,
                    PointsTransaction.created_at >= day_start,
                    PointsTransaction.created_at < day_start + dt.timedelta(days=1),
                )
            )
            if awarded_today >= cap:
                return "DAILY_LIMIT_REACHED"
            db.session.add(
                PointsTransaction(
                    customer_id=customer_id, ticket_id=ticket_id, action=action,
                    points=points, credit=credit,
                )
            )
            db.session.execute(
                update(Customer)
                .where(Customer.id == customer_id)
                .values(
                    points=Customer.points + points,
                    credit_balance=Customer.credit_balance + credit,
                )
            )
    except Exception:  # the ledger must never break the ticket operation
        log.exception("gamification award failed for customer %s", customer_id)
        return "GAMIFICATION_FAILED"
    return None
