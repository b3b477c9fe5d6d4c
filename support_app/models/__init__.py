"""All tables. Importing this package registers every model on FAB's metadata."""
from .base import Model, utcnow
from .commerce import (
    CANCELLABLE_ORDER_STATUSES, ORDER_STATUSES, Booking, Order, Ride, ServiceMember)
from .engagement import (
    EMAIL_STATUSES,
    FAQ,
    EmailLog,
    InboundToken,
    Notification,
    PointsTransaction,
)
from .people import AgentProfile, Customer, SupportUser
from .sessions import RevokedToken
from .tags import MACRO_LANGUAGES, RULE_FIELDS, RULE_MATCHES, AutoTagRule, Macro, Tag, TicketTag
from .sla import TARGET_STATES, TARGETS, SlaCalendar, SlaEscalationRule, SlaPolicy
from .tickets import (
    CATEGORIES,
    CHANNELS,
    PRIORITIES,
    SERVICE_TYPES,
    STATUSES,
    Attachment,
    Feedback,
    InternalNote,
    Message,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketParticipant,
)
from .webhooks import WEBHOOK_STATUSES, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Model", "utcnow",
    "Order", "Ride", "Booking", "ServiceMember", "ORDER_STATUSES", "CANCELLABLE_ORDER_STATUSES",
    "FAQ", "EmailLog", "InboundToken", "Notification", "PointsTransaction", "EMAIL_STATUSES",
    "SupportUser", "Customer", "AgentProfile", "RevokedToken",
    "Ticket", "TicketParticipant", "Message", "Attachment", "InternalNote", "Feedback",
    "TicketEvent", "TicketCounter", "STATUSES", "PRIORITIES", "CATEGORIES", "CHANNELS", "SERVICE_TYPES",
    "SlaCalendar", "SlaEscalationRule", "SlaPolicy", "TARGETS", "TARGET_STATES",
    "Tag", "TicketTag", "AutoTagRule", "Macro", "MACRO_LANGUAGES", "RULE_MATCHES", "RULE_FIELDS",
    "WebhookEndpoint", "WebhookDelivery", "WEBHOOK_STATUSES",
]
