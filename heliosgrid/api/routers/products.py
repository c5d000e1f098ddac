"""``/v1/data-products``: the data-product catalogue with each product's ODCS contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from heliosgrid.api import models
from heliosgrid.api.routers.common import Conn, Read, Reader, one_row, responses, router_for

REPO_ROOT = Path(__file__).resolve().parents[3]

PRODUCTS_SQL = (
    "SELECT name, version, title, description, owner, relation, contract_path, freshness_sla_s, updated_at, "
    "'/v1/data-products/' || name AS contract_url FROM data_products"
)
PRODUCTS_ORDERED_SQL = PRODUCTS_SQL + " ORDER BY name"
PRODUCT_SQL = PRODUCTS_SQL + " WHERE name = %s"

router = router_for("catalogue")


@router.get("/data-products", responses=responses(models.DataProductPage), summary="The data-product catalogue")
def list_data_products(*, rq: Read) -> Response:
    return rq.rows(PRODUCTS_ORDERED_SQL, None, "data_products")


@router.get(
    "/data-products/{name}",
    responses=responses(models.DataProductDetail, tabular=False, not_found=True),
    summary="One data product with its ODCS data contract",
)
def get_data_product(conn: Conn, _: Reader, name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]{1,64}$")]) -> JSONResponse:
    body = one_row(conn.execute(PRODUCT_SQL, (name,)), f"no data product named {name!r}")
    contract_file = (REPO_ROOT / body["contract_path"]).resolve()
    contract = None
    if contract_file.is_file() and REPO_ROOT in contract_file.parents:
        contract = yaml.safe_load(contract_file.read_text(encoding="utf-8"))
    body["contract"] = json.loads(json.dumps(contract, default=str)) if contract is not None else None
    return JSONResponse(body)
