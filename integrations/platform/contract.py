"""The platform contract (openapi.yaml): load it, and regenerate its schemas from the models.

`python -m integrations.platform.contract` rewrites components/schemas of openapi.yaml from
models.py; a test fails when the two drift apart."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic.json_schema import models_json_schema

from integrations.platform import models

SPEC = Path(__file__).resolve().parent / "openapi.yaml"

#: The models that appear on the wire (their dependencies are pulled in by pydantic).
WIRE_MODELS = (
    models.MatterPage, models.MatterSummary, models.Guide, models.GuidePage, models.Bundle, models.BundleCard, models.Hall, models.Slot,
    models.AppointmentRequest, models.RescheduleRequest, models.Appointment, models.Case, models.CasePage,
    models.CaseEvent, models.Error, models.RatingRequest, models.Rating, models.ComplaintRequest, models.Complaint,
    models.Enterprise, models.EnterpriseVerification, models.VerificationCheck,
    models.BundleLookup, models.BundleApplication, models.MaterialUpload, models.TicketRequest, models.Ticket,
    models.LicenceLookup, models.LicencePage, models.EnterpriseProfile, models.AnnualReport, models.ResidentLookup, models.ResidentPage,
    models.BenefitGrant,
)


def generated_schemas() -> dict:
    _, top = models_json_schema([(m, "serialization") for m in WIRE_MODELS], ref_template="#/components/schemas/{model}")
    return top["$defs"]


def load() -> dict:
    return yaml.safe_load(SPEC.read_text())


def write() -> None:
    spec = load()
    spec["components"]["schemas"] = generated_schemas()
    SPEC.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=120))


if __name__ == "__main__":
    write()
    print(f"wrote {SPEC}")
