"""The Studio in headless Chromium: a business draws a flow, sees a problem on its step,
fixes it, publishes, and tries it as a simulated contact; teams and business hours in the
settings. Screenshots go to ``INVIARO_SCREENSHOTS`` when set, else to the test's tmp dir."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.browser.conftest import open_page
from tests.conftest import LiveServer
from tests.helpers import Account, add_operator, new_client, signup
from web.auth.sessions import cookie_name

pytestmark = pytest.mark.browser


async def shot(page: Any, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("INVIARO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(folder / f"studio-{name}.png"), full_page=True)


@pytest.fixture
async def owner(live: LiveServer, context: Any) -> AsyncIterator[Account]:
    """A new workspace whose owner is signed in, over HTTP and in the browser."""
    async with new_client(live.url) as http:
        account = await signup(http, name="Olivia Owner", workspace="Bright Bakery")
        name = cookie_name(live.settings)
        await context.add_cookies([{"name": name, "value": http.cookies[name], "url": live.url}])
        yield account


def field(page: Any, label: str) -> Any:
    """A control of the side panel's form, by its exact label."""
    return page.locator("#side-panel").get_by_label(label, exact=True)


def box(page: Any, step: str) -> Any:
    return page.locator(f'#flow-canvas .step-box[data-step="{step}"]')


async def test_draw_a_two_step_flow_fix_its_problem_publish_and_try_it(
    live: LiveServer, owner: Account, context: Any, tmp_path: Path
) -> None:
    page, watch = await open_page(context, live.url + "/inbox")
    await page.locator(".tabs-main").get_by_role("link", name="Flows").click()
    await expect(page.locator("#flow-list-empty")).to_be_visible()
    await page.get_by_role("button", name="New flow").click()

    # A new flow starts with a greeting; its "Then" adds the question, connected.
    await expect(box(page, "greeting")).to_be_visible()
    await field(page, "Flow name").fill("Welcome")
    await box(page, "greeting").click()
    await field(page, "Message").fill("Hi {{contact.name}}! Welcome to Bright Bakery.")
    await field(page, "Then").select_option("new:ask")
    await expect(box(page, "ask_1")).to_be_visible()
    await expect(page.locator("#flow-canvas .edge")).to_have_count(1)

    # A mistake: the answer saved to something that is not a field.
    await field(page, "Question").fill("What is your email?")
    await field(page, "Save the answer as").fill("email")
    await expect(box(page, "ask_1")).to_have_class("step-box type-ask selected has-problem")
    problems = page.locator('.step-form[data-step="ask_1"] .problems')
    await expect(problems).to_contain_text("'save_as' must name contact.name")
    await expect(page.locator("#problem-summary")).to_contain_text("1 problem")
    await shot(page, tmp_path, "01-problem-on-step")

    await field(page, "Save the answer as").fill("contact.email")
    await expect(box(page, "ask_1")).not_to_have_class("has-problem")
    await expect(problems).to_have_count(0)
    await expect(page.locator("#problem-summary")).to_be_hidden()

    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#flow-status")).to_contain_text("Live · version 1")
    await expect(page.locator("#flow-list")).to_contain_text("live v1")
    flow = (await owner.get("/api/flows")).json()["items"][0]
    assert flow["name"] == "Welcome" and flow["status"] == "published"
    assert flow["steps"]["greeting"]["next"] == "ask_1"
    assert flow["steps"]["ask_1"]["save_as"] == "contact.email"

    await page.get_by_role("button", name="Try it").first.click()
    transcript = page.locator(".try-transcript > li")
    await expect(transcript).to_have_count(2)
    await expect(transcript.nth(0)).to_have_text("Hi Sam! Welcome to Bright Bakery.")
    await expect(transcript.nth(1)).to_have_text("What is your email?")
    await expect(page.locator(".try-status")).to_contain_text("Waiting for the contact")
    await page.get_by_label("Type as the contact").fill("sam@example.com")
    await page.get_by_label("Type as the contact").press("Enter")
    await expect(page.locator(".try-status")).to_have_text("The flow ended.")
    await expect(page.locator(".try-saved")).to_contain_text("sam@example.com")
    await shot(page, tmp_path, "02-published-and-tried")

    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, tmp_path, "03-phone")
    assert watch.errors == []


async def test_choices_are_tapped_in_the_try_panel(
    live: LiveServer, owner: Account, context: Any, tmp_path: Path
) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Route",
            "trigger": {"on": "conversation_started"},
            "start": "pick",
            "steps": {
                "pick": {
                    "type": "choose",
                    "text": "Sales or support?",
                    "save_as": "vars.topic",
                    "options": [
                        {"label": "Sales", "next": "sales"},
                        {"label": "Support", "next": "support"},
                    ],
                },
                "sales": {"type": "send", "text": "Sales it is."},
                "support": {"type": "handoff"},
            },
        },
    )
    assert r.status_code == 201, r.text
    page, watch = await open_page(context, f"{live.url}/flows#{r.json()['id']}")
    await expect(page.locator("#flow-canvas .edge")).to_have_count(2)
    await expect(page.locator("#flow-canvas .edge-label")).to_have_text(["Sales", "Support"])
    await page.get_by_role("tab", name="Try it").click()
    await page.locator(".try-options").get_by_role("button", name="Support").click()
    await expect(page.locator(".try-status")).to_contain_text("Handed off")
    await expect(page.locator(".try-saved")).to_contain_text("Support")
    await page.get_by_role("button", name="Start over").click()
    await page.get_by_label("Type as the contact").fill("1")
    await page.get_by_label("Type as the contact").press("Enter")
    await expect(page.locator(".try-transcript > li").last).to_have_text("Sales it is.")
    await shot(page, tmp_path, "04-choices")
    assert watch.errors == []


async def test_the_json_view_edits_the_flow(live: LiveServer, owner: Account, context: Any) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Plain",
            "trigger": {"on": "conversation_started"},
            "start": "hello",
            "steps": {"hello": {"type": "send", "text": "Hello"}},
        },
    )
    flow_id = r.json()["id"]
    page, watch = await open_page(context, f"{live.url}/flows#{flow_id}")
    await page.get_by_role("button", name="JSON").click()
    text = page.get_by_label("The flow document: trigger, start and steps")
    document = {
        "trigger": {"on": "conversation_started"},
        "start": "hello",
        "steps": {"hello": {"type": "send", "text": "Hello"}},
    }
    await expect(text).to_have_value(json.dumps(document, indent=2))
    await text.fill("{not json")
    await page.get_by_role("button", name="Apply JSON").click()
    await expect(page.locator("#json-error")).to_contain_text("not valid JSON")
    await text.fill(
        '{"trigger": {"on": "message", "keywords": ["price"]}, "start": "hello", "steps": {'
        '"hello": {"type": "send", "text": "Prices are online.", "next": "bye"},'
        '"bye": {"type": "end"}}}'
    )
    await page.get_by_role("button", name="Apply JSON").click()
    await page.get_by_role("button", name="Canvas").click()
    await expect(box(page, "bye")).to_be_visible()
    await expect(page.locator("#save-state")).to_have_text("Draft saved")
    assert sorted((await owner.get(f"/api/flows/{flow_id}")).json()["steps"]) == ["bye", "hello"]
    assert watch.errors == []


async def test_a_step_type_without_a_form_is_edited_as_json(
    live: LiveServer, owner: Account, context: Any
) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Later",
            "trigger": {"on": "conversation_started"},
            "start": "book",
            "steps": {"book": {"type": "book", "booking_type_id": "bt_1", "on_none": ""}},
        },
    )
    page, watch = await open_page(context, f"{live.url}/flows#{r.json()['id']}")
    await box(page, "book").click()
    json_fields = page.get_by_label("Step fields (JSON)")
    await expect(json_fields).to_have_value(re.compile(r'"booking_type_id": "bt_1"'))
    await expect(page.locator(".step-form .problems")).to_contain_text(
        "There is no booking type 'bt_1'"
    )
    assert watch.errors == []


async def test_a_team_is_added_with_members_in_the_settings(
    live: LiveServer, owner: Account, context: Any, tmp_path: Path
) -> None:
    page, watch = await open_page(context, live.url + "/settings?tab=teams")
    await expect(page.locator("#teams-list")).to_contain_text("No teams yet")
    await page.get_by_label("New team name").fill("Sales")
    await page.get_by_role("button", name="Add team").click()
    card = page.get_by_role("form", name="Team Sales")
    await card.get_by_label("Olivia Owner").check()
    await card.get_by_role("button", name="Save team").click()
    await expect(page.locator(".toast.ok").last).to_contain_text("Team “Sales” saved.")
    teams = (await owner.get("/api/teams")).json()["items"]
    assert [(t["name"], t["operator_ids"]) for t in teams] == [("Sales", [owner.operator_id])]
    await shot(page, tmp_path, "05-teams")
    assert watch.errors == []


async def test_business_hours_are_set_with_a_time_zone_and_a_holiday(
    live: LiveServer, owner: Account, context: Any, tmp_path: Path
) -> None:
    page, watch = await open_page(context, live.url + "/settings?tab=hours")
    await expect(page.locator("#hours-state")).to_contain_text("No business hours are set")
    await page.locator("#tab-hours").get_by_label("Time zone").fill("Europe/Sarajevo")
    await page.get_by_label("Open on Saturday").check()
    await page.get_by_label("Saturday closes").fill("13:00")
    await page.get_by_label("Open on Sunday").uncheck()
    await page.get_by_label("Holiday date").fill("2026-12-25")
    await page.get_by_role("button", name="Add holiday").click()
    await page.get_by_role("button", name="Save business hours").click()
    await expect(page.locator(".toast.ok").last).to_contain_text("Business hours saved.")
    await expect(page.locator("#hours-state")).to_be_hidden()
    hours = (await owner.get("/api/workspace")).json()["business_hours"]
    assert hours["timezone"] == "Europe/Sarajevo"
    assert hours["weekly"]["mon"] == [["09:00", "17:00"]]
    assert hours["weekly"]["sat"] == [["09:00", "13:00"]]
    assert hours["weekly"]["sun"] == []
    assert hours["holidays"] == ["2026-12-25"]
    await shot(page, tmp_path, "06-hours")
    await page.set_viewport_size({"width": 390, "height": 844})
    await shot(page, tmp_path, "06-hours-phone")

    await page.get_by_label("Monday closes").fill("25:00")
    await page.get_by_role("button", name="Save business hours").click()
    await expect(page.get_by_label("Monday closes")).to_have_js_property("validity.valid", False)
    assert watch.errors == []


async def test_dragging_a_handle_onto_a_box_connects_the_steps(
    live: LiveServer, owner: Account, context: Any
) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Two",
            "trigger": {"on": "conversation_started"},
            "start": "greeting",
            "steps": {
                "greeting": {"type": "send", "text": "Hi"},
                "bye": {"type": "send", "text": "Bye"},
            },
        },
    )
    flow_id = r.json()["id"]
    page, watch = await open_page(context, f"{live.url}/flows#{flow_id}")
    await expect(box(page, "bye")).to_have_class(re.compile("has-problem"))  # unreachable
    port = await box(page, "greeting").locator(".port").bounding_box()
    target = await box(page, "bye").bounding_box()
    assert port is not None and target is not None
    await page.mouse.move(port["x"] + port["width"] / 2, port["y"] + port["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(target["x"] + 40, target["y"] + 30, steps=5)
    await page.mouse.up()
    await expect(page.locator("#flow-canvas .edge")).to_have_count(1)
    await expect(box(page, "bye")).not_to_have_class(re.compile("has-problem"))
    await expect(page.locator("#save-state")).to_have_text("Draft saved")
    steps = (await owner.get(f"/api/flows/{flow_id}")).json()["steps"]
    assert steps["greeting"]["next"] == "bye"
    assert watch.errors == []


async def test_an_agent_reads_flows_and_tries_them_but_cannot_edit(
    live: LiveServer, browser: Any
) -> None:
    async with new_client(live.url) as http:
        owner = await signup(http)
        r = await owner.post(
            "/api/flows",
            {
                "name": "Hello",
                "trigger": {"on": "conversation_started"},
                "start": "hello",
                "steps": {"hello": {"type": "send", "text": "Hello there"}},
            },
        )
        agent = await add_operator(owner, "agent")
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            name = cookie_name(live.settings)
            cookie = agent.client.cookies[name]
            await context.add_cookies([{"name": name, "value": cookie, "url": live.url}])
            page, watch = await open_page(context, f"{live.url}/flows#{r.json()['id']}")
            await expect(box(page, "hello")).to_be_visible()
            await expect(page.get_by_role("button", name="New flow")).to_be_hidden()
            await expect(page.get_by_role("button", name="Publish")).to_be_hidden()
            await expect(page.locator("#flow-canvas .port")).to_have_count(0)
            await box(page, "hello").click()
            await expect(field(page, "Message")).to_be_disabled()
            await page.get_by_role("tab", name="Try it").click()
            await expect(page.locator(".try-transcript > li")).to_have_text(["Hello there"])
            assert watch.errors == []
        finally:
            await context.close()
            await agent.client.aclose()


async def test_a_greeting_question_and_routing_flow_is_built_with_the_forms_only(
    live: LiveServer, owner: Account, context: Any, tmp_path: Path
) -> None:
    for team in ("Sales", "Support"):
        r = await owner.post("/api/teams", {"name": team, "operator_ids": [owner.operator_id]})
        assert r.status_code == 201, r.text
    teams = {t["name"]: t["id"] for t in (await owner.get("/api/teams")).json()["items"]}
    page, watch = await open_page(context, live.url + "/flows")
    await page.get_by_role("button", name="New flow").click()
    await field(page, "Flow name").fill("Front desk")
    await box(page, "greeting").click()
    await field(page, "Then").select_option("new:ask")
    await field(page, "Question").fill("What is your name?")
    await field(page, "Expected answer").select_option("text")
    await field(page, "Save the answer as").fill("contact.name")
    await field(page, "Then").select_option("new:choose")
    await field(page, "Question").fill("Thanks {{contact.name}}! Sales or support?")
    choose_problems = page.locator('.step-form[data-step="choose_1"] .problems li')
    await expect(choose_problems).to_have_text(
        [
            "“options[0].next” does not lead anywhere yet: pick the step it goes to.",
            "“options[1].next” does not lead anywhere yet: pick the step it goes to.",
        ]
    )
    await page.get_by_label("Option 1 goes to").select_option("new:handoff")
    await field(page, "Team's queue").select_option(label="Sales")
    await box(page, "choose_1").click()
    await page.get_by_label("Option 2 goes to").select_option("new:handoff")
    await field(page, "Team's queue").select_option(label="Support")
    await expect(page.locator("#flow-canvas .edge")).to_have_count(4)
    await expect(page.locator("#problem-summary")).to_be_hidden()
    await expect(page.locator("#save-state")).to_have_text("Draft saved")
    await page.get_by_role("button", name="Publish").click()
    await expect(page.locator("#flow-status")).to_contain_text("Live · version 1")
    flow = (await owner.get("/api/flows")).json()["items"][0]
    assert flow["steps"]["handoff_1"] == {"type": "handoff", "team_id": teams["Sales"]}
    assert flow["steps"]["handoff_2"] == {"type": "handoff", "team_id": teams["Support"]}

    await page.get_by_role("tab", name="Try it").click()
    await page.get_by_label("Type as the contact").fill("Mia")
    await page.get_by_label("Type as the contact").press("Enter")
    await expect(page.locator(".try-transcript > li").last).to_contain_text("Thanks Mia!")
    await page.locator(".try-options").get_by_role("button", name="Support").click()
    await expect(page.locator(".try-status")).to_contain_text("Handed off")
    await shot(page, tmp_path, "07-front-desk")
    await page.set_viewport_size({"width": 390, "height": 844})
    await box(page, "choose_1").click()
    await shot(page, tmp_path, "08-front-desk-phone")
    assert watch.errors == []


async def test_a_keyword_trigger_on_one_channel_shows_its_problem_until_it_has_keywords(
    live: LiveServer, owner: Account, context: Any
) -> None:
    widget = {"kind": "widget", "name": "Website", "config": {"allowed_origins": [live.url]}}
    channel = (await owner.post("/api/channels", widget)).json()
    page, watch = await open_page(context, live.url + "/flows")
    await page.get_by_role("button", name="New flow").click()
    await expect(box(page, "greeting")).to_be_visible()
    await field(page, "Starts when").select_option("message")
    await field(page, "Website").check()
    summary = page.locator("#problem-summary")
    await expect(summary).to_contain_text("needs at least one keyword")
    await expect(page.locator("#side-panel .problems")).to_contain_text("keyword")
    await field(page, "Keywords (any of)").fill("price, menu")
    await expect(summary).to_be_hidden()
    await expect(page.locator("#save-state")).to_have_text("Draft saved")
    trigger = (await owner.get("/api/flows")).json()["items"][0]["trigger"]
    assert trigger == {"on": "message", "keywords": ["price", "menu"], "channels": [channel["id"]]}
    await page.get_by_role("tab", name="Try it").click()
    await expect(page.locator(".try-status")).to_contain_text("price, menu")
    await page.get_by_label("Type as the contact").fill("What is on the menu?")
    await page.get_by_label("Type as the contact").press("Enter")
    transcript = page.locator(".try-transcript > li")
    await expect(transcript).to_have_text(["What is on the menu?", "Hi! Thanks for writing to us."])
    assert watch.errors == []


async def test_deleting_the_open_flow_empties_the_editor(
    live: LiveServer, owner: Account, context: Any
) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Old",
            "trigger": {"on": "conversation_started"},
            "start": "hello",
            "steps": {"hello": {"type": "send", "text": "Hello"}, "odd": None},
        },
    )
    assert r.status_code == 201, r.text
    page, watch = await open_page(context, live.url + "/flows")
    await expect(box(page, "odd")).to_have_class(re.compile("has-problem"))
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Delete", exact=True).click()
    await expect(page.locator("#flow-editor")).to_be_hidden()
    await expect(page.locator("#flow-list-empty")).to_be_visible()
    assert (await owner.get("/api/flows")).json()["items"] == []
    assert watch.errors == []


async def test_an_http_step_shows_the_key_its_calls_are_signed_with(
    live: LiveServer, owner: Account, context: Any
) -> None:
    r = await owner.post(
        "/api/flows",
        {
            "name": "Lookup",
            "trigger": {"on": "conversation_started"},
            "start": "lookup",
            "steps": {"lookup": {"type": "http", "url": "https://example.com/x", "on_error": ""}},
        },
    )
    page, watch = await open_page(context, f"{live.url}/flows#{r.json()['id']}")
    await box(page, "lookup").click()
    await field(page, "URL").fill("http://example.com/x")
    problems = page.locator('.step-form[data-step="lookup"] .problems')
    await expect(problems).to_contain_text("The url must start with https://.")
    await page.get_by_role("button", name="Show the signing key").click()
    secret = (await owner.get("/api/flows/secret")).json()["secret"]
    await expect(page.locator(".step-form code.secret")).to_have_text(secret)
    assert watch.errors == []
