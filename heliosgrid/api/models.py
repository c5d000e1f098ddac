"""Pydantic models describing the JSON responses in the OpenAPI document.

Routes build their JSON directly from database rows (and can answer CSV/Parquet instead), so
these models document the shapes; field names carry units (``_kw``, ``_kwh``, ``_w_m2``, ``_s``).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any, Literal, get_type_hints

from pydantic import BaseModel, Field, create_model

from heliosgrid.alerts import Alert
from heliosgrid.dq import DqResultRow


def _model_of(name: str, row: type[Any]) -> type[BaseModel]:
    """A pydantic model with the fields (names, types, order; all required) of the dataclass ``row``,
    so a library row shape is defined once and documented by the API as is."""
    hints = get_type_hints(row)
    fields: dict[str, Any] = {f.name: (hints[f.name], ...) for f in dataclasses.fields(row)}
    return create_model(name, **fields)


class Page(BaseModel):
    next_cursor: str | None = Field(None, description="Opaque cursor of the next page; null on the last page.")


class Health(BaseModel):
    status: str = Field(description="'ok' or 'degraded'")
    database: str = Field(description="'ok' or 'unavailable'")
    version: str


class StreamTokenOut(BaseModel):
    token: str = Field(description="Opens /v1/stream?token=… (only the stream), until expires_at.")
    expires_at: datetime
    expires_in_s: int = Field(description="Seconds until the token expires.")


class Site(BaseModel):
    """A plant in the catalogue; capacities are the sums over its inverters."""

    site_id: str
    name: str
    latitude_deg: float = Field(description="WGS 84 latitude, degrees north.")
    longitude_deg: float = Field(description="WGS 84 longitude, degrees east.")
    altitude_m: float = Field(description="Altitude above sea level, metres.")
    timezone: str = Field(description="IANA time zone of the plant; site-local days use it.")
    dc_capacity_kw: float = Field(description="DC nameplate (STC), kW.")
    ac_capacity_kw: float = Field(description="Inverter AC rating, kW.")
    tariff_per_kwh: float | None = Field(description="Energy price for lost-revenue figures, per kWh; null if unknown.")


class SitePage(Page):
    items: list[Site]


class Device(BaseModel):
    device_id: str
    site_id: str
    kind: str
    surface_tilt_deg: float
    surface_azimuth_deg: float
    dc_capacity_kw: float
    ac_capacity_kw: float
    gamma_pdc_per_c: float
    inverter_efficiency: float
    tracking: Literal["fixed", "single_axis"] = Field(
        description="fixed: surface_tilt_deg/surface_azimuth_deg are the modules'; single_axis: the tracker axis's")
    tracker_max_angle_deg: float = Field(description="single-axis tracker rotation limit either side of flat, degrees")
    tracker_gcr: float = Field(description="single-axis tracker ground coverage ratio (backtracking), 0..1")


class DevicePage(Page):
    items: list[Device]


class Reading(BaseModel):
    device_id: str
    site_id: str
    ts: datetime
    ghi_w_m2: float | None
    poa_w_m2: float | None
    ambient_temp_c: float | None
    module_temp_c: float | None
    dc_power_kw: float | None
    ac_power_kw: float | None
    inverter_status: str | None
    seq: int
    ingested_at: datetime


class ReadingPage(Page):
    items: list[Reading]


class RollupPage(Page):
    items: list[dict[str, Any]] = Field(
        description="Per device: every column of readings_<resolution>. Per site: site_id, bucket, "
        "ac_power_kw, expected_ac_power_kw, energy_kwh, poa_w_m2, poa_irradiation_kwh_m2, availability, completeness."
    )


class KpiDaily(BaseModel):
    site_id: str
    day: date = Field(description="Site-local calendar day.")
    inverters: int
    dc_capacity_kw: float
    energy_kwh: float | None
    reference_energy_kwh: float | None = Field(description="Σ DC capacity × reference yield (kWh); PR = energy / this.")
    specific_yield_kwh_kwp: float | None
    performance_ratio: float | None
    performance_ratio_temp_corr: float | None
    availability: float | None
    expected_energy_kwh: float | None
    lost_energy_kwh: float | None
    revenue: float | None


class KpiPage(Page):
    items: list[KpiDaily]


class SiteOverview(BaseModel):
    site_id: str
    name: str
    as_of: datetime
    current_ac_power_kw: float | None
    expected_ac_power_kw: float | None
    forecast_p10_kw: float | None
    forecast_p50_kw: float | None
    forecast_p90_kw: float | None
    energy_today_kwh: float | None
    performance_ratio_today: float | None
    availability_today: float | None
    open_alerts: int
    last_reading_ts: datetime | None
    freshness_age_s: float | None


class OverviewPage(Page):
    items: list[SiteOverview]


class ForecastPoint(BaseModel):
    site_id: str
    model_version: str
    issued_at: datetime
    target_ts: datetime
    horizon_min: int
    p10_kw: float
    p50_kw: float = Field(description="Median (kW): half the outcomes fall below it.")
    p90_kw: float
    point_kw: float | None = Field(
        None, description="Expected value (kW), the forecast to sum for energy over a period (a sum of medians is "
                          "not the median of the sum); null for issues stored before the point forecast was kept.")


class ForecastIssue(Page):
    site_id: str
    issued_at: datetime | None
    items: list[ForecastPoint]


class AccuracySummary(BaseModel):
    n: int
    mae_kw: float | None
    rmse_kw: float | None
    bias_kw: float | None
    p10_p90_coverage: float | None


class AccuracyPage(Page):
    site_id: str
    summary: AccuracySummary
    items: list[dict[str, Any]]


class AlertOut(_model_of("AlertRow", Alert)):  # type: ignore[misc]  # fields = heliosgrid.alerts.Alert
    pass


class AlertPage(Page):
    items: list[AlertOut]


class DqResult(_model_of("DqResultRow", DqResultRow)):  # type: ignore[misc]  # fields = heliosgrid.dq.DqResultRow
    pass


class DqPage(Page):
    items: list[DqResult]


class Freshness(BaseModel):
    site_id: str
    last_reading_ts: datetime | None
    last_ingested_at: datetime | None
    age_s: float | None
    sla_s: int
    fresh: bool


class FreshnessPage(Page):
    items: list[Freshness]


class DataProduct(BaseModel):
    name: str
    version: str
    title: str
    description: str
    owner: str
    relation: str
    contract_path: str
    freshness_sla_s: int
    updated_at: datetime
    contract_url: str


class DataProductPage(Page):
    items: list[DataProduct]


class DataProductDetail(DataProduct):
    contract: dict[str, Any] | None = Field(
        description="The ODCS contract document (parsed YAML); null when the file is missing."
    )


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
