"""The declaration layer (web/operation.py): one declaration parses the request and is the
route's OpenAPI operation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.helpers import signup
from web.errors import ApiError, api_error_handler
from web.openapi import build
from web.operation import UNAUTHORIZED, WRITE, Answer, Operation, Param, declare
from web.schema import Invalid, convert


class Pet(msgspec.Struct, forbid_unknown_fields=True):
    """A pet to add."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    age: Annotated[int, msgspec.Meta(ge=0)]


ADD_PET = Operation(
    method="post",
    operation_id="addPet",
    summary="Add a pet",
    tags=("pets",),
    security=WRITE,
    body=Pet,
    params=(Param("limit", Annotated[int, msgspec.Meta(ge=1, le=5)], description="At most."),),
    answers={201: Answer("The pet.", body=Pet)},
    faults=(UNAUTHORIZED,),
)


@declare(ADD_PET)
async def add_pet(request: Request) -> Response:
    query = ADD_PET.query(request)
    pet = await ADD_PET.parse(request, Pet)
    return JSONResponse({"name": pet.name, "age": pet.age, **query}, 201)


def pets_app() -> Starlette:
    return Starlette(
        routes=[Route("/pets", add_pet, methods=["POST"])],
        exception_handlers={ApiError: api_error_handler},  # type: ignore[dict-item]
    )


async def call(body: Any, params: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=pets_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/pets", json=body, params=params)


async def test_a_body_that_fits_its_struct_is_parsed_and_stripped() -> None:
    response = await call({"name": "  Rex ", "age": 3}, {"limit": "2"})
    assert response.status_code == 201
    assert response.json() == {"name": "Rex", "age": 3, "limit": 2}


async def test_every_field_problem_is_named_in_one_422() -> None:
    response = await call({"name": "", "age": -1, "colour": "red"})
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert [p["field"] for p in problems] == ["name", "age", "colour"]
    assert response.json()["error"] == "invalid"


async def test_a_query_parameter_outside_its_declared_type_is_a_422() -> None:
    response = await call({"name": "Rex", "age": 3}, {"limit": "9"})
    assert response.status_code == 422
    assert response.json()["problems"][0]["field"] == "limit"


def test_the_same_declaration_is_the_documented_operation() -> None:
    document = build(pets_app().routes)
    operation = document["paths"]["/pets"]["post"]
    assert operation["operationId"] == "addPet"
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Pet"
    }
    assert operation["parameters"][0]["schema"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert set(operation["responses"]) == {"201", "401", "400", "413", "415"}
    pet = document["components"]["schemas"]["Pet"]
    assert pet["required"] == ["name", "age"] and pet["additionalProperties"] is False


def test_an_undeclared_route_is_missing_from_the_document() -> None:
    async def bare(request: Request) -> Response:
        return Response()

    document = build([Route("/bare", bare, methods=["GET"])])
    assert "/bare" not in document["paths"]


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x", "operator_ids": "all"}])
async def test_a_converted_route_answers_every_problem(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    owner = await signup(client)
    response = await owner.post("/api/teams", body)
    assert response.status_code == 422
    assert response.json()["problems"] and response.json()["detail"]


class Stay(msgspec.Struct):
    """A stay: a rule across two fields lives in the Struct, beside the field rules."""

    nights: Annotated[int, msgspec.Meta(ge=1)]
    guests: Annotated[int, msgspec.Meta(ge=1)]

    def __post_init__(self) -> None:
        if self.guests > 2 * self.nights:
            raise Invalid("guests", "At most two guests a night.")


def problems(data: dict[str, Any], kind: type[msgspec.Struct]) -> list[dict[str, str]]:
    with pytest.raises(ApiError) as caught:
        convert(data, kind)
    assert caught.value.status == 422 and caught.value.code == "invalid"
    assert caught.value.extra is not None
    found: list[dict[str, str]] = caught.value.extra["problems"]
    return found


def test_a_rule_across_fields_names_its_field_in_the_422() -> None:
    assert problems({"nights": 1, "guests": 3}, Stay) == [
        {"field": "guests", "detail": "guests: At most two guests a night."}
    ]


def test_field_problems_are_answered_before_a_rule_across_fields() -> None:
    assert [p["field"] for p in problems({"nights": 0, "guests": 0}, Stay)] == [
        "nights",
        "guests",
    ]


LIST_PETS = Operation(
    method="get",
    operation_id="listPets",
    summary="List pets",
    tags=("pets",),
    params=(
        Param("limit", Annotated[int, msgspec.Meta(ge=1, le=5)], default=3),
        Param("kind", Literal["cat", "dog"], required=True),
        Param("after", Annotated[int, msgspec.Meta(ge=0)]),
    ),
    answers={200: Answer("Pets.")},
)


@declare(LIST_PETS)
async def list_pets(request: Request) -> Response:
    return JSONResponse(LIST_PETS.query(request))


async def query(params: dict[str, str]) -> httpx.Response:
    app = Starlette(
        routes=[Route("/pets", list_pets, methods=["GET"])],
        exception_handlers={ApiError: api_error_handler},  # type: ignore[dict-item]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/pets", params=params)


async def test_an_absent_or_empty_parameter_is_its_default() -> None:
    assert (await query({"kind": "cat", "limit": ""})).json() == {"kind": "cat", "limit": 3}


async def test_every_bad_query_parameter_is_named_with_what_it_must_be() -> None:
    response = await query({"limit": "9", "after": "1e3"})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {
            "field": "limit",
            "detail": "The query parameter 'limit' must be a whole number from 1 to 5.",
        },
        {"field": "kind", "detail": "The query parameter 'kind' is required."},
        {"field": "after", "detail": "The query parameter 'after' must be a whole number from 0."},
    ]


def test_a_parameter_default_is_documented() -> None:
    operation = build([Route("/pets", list_pets, methods=["GET"])])["paths"]["/pets"]["get"]
    assert operation["parameters"][0]["schema"]["default"] == 3
