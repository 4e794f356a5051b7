"""Imports every model so the metadata (and Alembic) sees all tables."""

import helpdesk_inspection.models  # noqa: F401 - the components' tables share the metadata
import helpdesk_kb.models  # noqa: F401

from helpdesk.accountability.models import (  # noqa: F401
    AuditCheckpoint,
    Breach,
    FollowupPolicy,
    StaffNotification,
    WebhookDelivery,
)
from helpdesk.accounts.models import ApiToken, LoginFailure, Role, Staff, StaffSkill
from helpdesk.admin.models import AdminEvent, AuditHead  # noqa: F401
from helpdesk.applicants.models import Applicant, HandoffUse
from helpdesk.db import Base
from helpdesk.integration.models import (  # noqa: F401
    ApplicantMessage,
    EventDelivery,
    IntegrationEvent,
    MessageTemplate,
    PhoneVerification,
    ServicePackage,
    ServicePackageItem,
    WebhookSubscription,
)
from helpdesk.journey.records import AgentStatus, SharedStateEpoch
from helpdesk.org.models import Department, Holiday, OrgUnit, ServiceItem, ServiceItemUnit, UnitLevel
from helpdesk.workorders.models import (
    Channel,
    ChatMessage,
    FileAttachment,
    Outcome,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)

__all__ = [
    "AgentStatus", "ApiToken", "Applicant", "Base", "Channel", "ChatMessage", "Department", "FileAttachment",
    "HandoffUse", "Holiday", "LoginFailure", "OrgUnit", "Outcome", "Role", "ServiceItem",
    "ServiceItemUnit", "SharedStateEpoch", "Staff", "StaffSkill", "UnitLevel", "WorkOrder", "WorkOrderEvent",
    "WorkOrderStatus",
]
