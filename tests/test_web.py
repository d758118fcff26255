"""The web page of ``codexkit serve`` in a real headless Chromium (Debian's ``chromium``,
driven by Playwright from PyPI; no browser is downloaded), against a real server on the
real codex binary with the scripted model. One server, one browser and one signed-in page
for the module. Any console error or uncaught exception of the page fails the test; each
test keeps a screenshot in its tmp_path (``CODEXKIT_DOCS_SCREENSHOTS=DIR`` writes the
ones docs/web.md shows into DIR too)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright
from support.serve import ServeProcess
from support.serve_rest import workspace

from codexkit.server.auth import COOKIE_NAME
from codexkit.testing import ScriptedModel, apply_patch, failure, shell, stall, text, tool_call

pytestmark = [pytest.mark.real, pytest.mark.slow]

CHROMIUM = os.environ.get("CODEXKIT_CHROMIUM", "/usr/bin/chromium")
WAIT_MS = 30_000  # a turn of the real binary on a loaded 2-core machine, with room
expect.set_options(timeout=WAIT_MS)


class Console:
    """What the page reported as an error: console errors and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._uncaught)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def _uncaught(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture(scope="module")
def server(
    model: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    # A model slug codex knows, so that it offers its file-editing tool (apply_patch).
    root = tmp_path_factory.mktemp("serve-web")
    (root / "work").mkdir()
    running = ServeProcess(
        data_dir=root / "data",
        codex_home=model.codex_home(root / "codex-home", extra_config={"model": "gpt-5.5"}),
        config_home=root / "config",
        args=["--no-profile", "--allowed-root", str(root / "work")],
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: ServeProcess) -> Iterator[tuple[Page, Console]]:
    """A browser page opened through the login link that ``codexkit serve`` printed."""
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    page = context.new_page()
    console = Console(page)
    page.goto(server.login_link)
    yield page, console
    context.close()


@pytest.fixture
def page(signed_in: tuple[Page, Console], tmp_path: Path) -> Iterator[Page]:
    opened, console = signed_in
    console.errors.clear()
    yield opened
    opened.screenshot(path=str(tmp_path / "end.png"))
    assert console.errors == [], "the page reported errors"


def shot(page: Page, tmp_path: Path, name: str, *, docs: bool = False) -> None:
    """A screenshot of the page as it is, kept with the test; the ones docs/web.md shows
    (``docs``) also go to ``$CODEXKIT_DOCS_SCREENSHOTS`` when it is set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    folder = os.environ.get("CODEXKIT_DOCS_SCREENSHOTS")
    if docs and folder:
        shutil.copy(path, Path(folder) / f"web-{name}.png")


def new_session(page: Page, server: ServeProcess) -> str:
    """A session made with the sidebar's form, working in the server's workspace; its id."""
    page.fill("#new-cwd", str(workspace(server)))
    page.click("#new-session button[type=submit]")
    expect(page).to_have_url(re.compile(r"#session="))
    expect(page.locator("#prompt")).to_be_focused()
    return page.url.split("#session=", 1)[1]


def send(page: Page, message: str) -> None:
    page.fill("#prompt", message)
    page.press("#prompt", "Enter")
    expect(page.locator(".bubble.user").last).to_have_text(message)


def ask_before_running(page: Page) -> None:
    """Session controls under which an escalated command needs a person's approval."""
    page.click("#controls summary")
    page.select_option("#c-approval", "on-request")
    page.select_option("#c-sandbox", "read-only")
    page.click("#controls-form button[type=submit]")
    expect(page.locator("#controls-note")).to_have_text(re.compile("applied|unchanged"))
    page.click("#controls summary")


def model_asked(model: ScriptedModel, prompt: str) -> None:
    """Waits until the model has received the turn that ``prompt`` started."""
    while not any(request.last_user_text == prompt for request in model.requests):
        model.wait_for_requests(len(model.requests) + 1, timeout=WAIT_MS / 1000)


def current_link(page: Page) -> str:
    return "#session-list .session-link.current"


# -- tests -----------------------------------------------------------------------------------


def test_the_login_link_signs_the_browser_in_once(
    page: Page, server: ServeProcess, browser: Browser, tmp_path: Path
) -> None:
    assert page.url == server.url + "/"  # the link leads on to the page
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#conn")).to_have_text(re.compile("live"))
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert server.token not in cookie["value"]
    # The link worked once: another browser opening it is told so, and sees no data.
    other = browser.new_context()
    try:
        stranger = other.new_page()
        console = Console(stranger)
        stranger.goto(server.login_link)
        expect(stranger.locator("#signin-reason")).to_have_text(re.compile("used already"))
        expect(stranger.locator("#app")).to_be_hidden()
        assert stranger.context.cookies() == []
        assert console.errors == []
    finally:
        other.close()
    shot(page, tmp_path, "signed-in")


def test_a_new_session_streams_the_reply_as_it_is_written(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    reply = "The quick brown fox jumps over the lazy dog, twice over and back again."
    model.add(text(reply, chunks=12))
    session_id = new_session(page, server)
    expect(page.locator(current_link(page) + " .name")).to_have_text("Untitled session")
    # Every text the reply's bubble shows on the way, as the browser renders it.
    page.evaluate(
        """() => {
          window.__seen = [];
          new MutationObserver(() => {
            const bubble = document.querySelector('.bubble.assistant');
            if (bubble) window.__seen.push(bubble.textContent);
          }).observe(document.getElementById('transcript'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    send(page, "Say something long")
    assistant = page.locator(".bubble.assistant")
    expect(assistant).to_have_text(reply)
    expect(assistant).to_have_class(re.compile(r"\bcomplete\b"))
    seen: list[str] = page.evaluate("window.__seen")
    partial = {s for s in seen if s and s != reply}
    assert len(partial) >= 3, seen  # it grew piece by piece, not in one go
    assert all(reply.startswith(s) for s in partial), seen
    expect(page.locator("#turn-state")).to_have_text("")
    expect(page.locator("#usage")).to_contain_text("tokens")
    # The session can be renamed from the page; the sidebar follows.
    page.click("#rename")
    page.fill("#rename-input", "Fox facts")
    page.press("#rename-input", "Enter")
    expect(page.locator(current_link(page) + " .name")).to_have_text("Fox facts")
    expect(page.locator("#title")).to_have_text("Fox facts")
    assert page.url.endswith(session_id)
    shot(page, tmp_path, "reply", docs=True)


def test_an_approval_accepted_by_a_click_runs_the_command(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch accepted.txt", escalate=True), text("The file is there.")])
    new_session(page, server)
    ask_before_running(page)
    send(page, "Make a file, please")
    card = page.locator("#pending .approval")
    expect(card).to_contain_text("touch accepted.txt")
    expect(page.locator(current_link(page) + " .count")).to_have_text("1")
    assert not (workspace(server) / "accepted.txt").exists()
    shot(page, tmp_path, "approval", docs=True)
    card.get_by_role("button", name="Accept", exact=True).click()
    command = page.locator(".card.command")
    expect(command).to_contain_text("touch accepted.txt")
    expect(command.locator(".exit")).to_have_text("exit 0")
    expect(page.locator(".bubble.assistant")).to_have_text("The file is there.")
    expect(card).to_have_count(0)
    expect(page.locator(current_link(page) + " .count")).to_have_count(0)
    assert (workspace(server) / "accepted.txt").exists()
    expect(page.locator("#send")).to_have_text("Send")  # the turn is over
    shot(page, tmp_path, "command", docs=True)


def test_a_declined_command_does_not_run(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend([shell("touch declined.txt", escalate=True), text("Understood, I left it.")])
    new_session(page, server)
    ask_before_running(page)
    send(page, "Make another file")
    card = page.locator("#pending .approval")
    expect(card).to_contain_text("touch declined.txt")
    card.get_by_role("button", name="Decline").click()
    expect(page.locator(".bubble.assistant")).to_have_text("Understood, I left it.")
    expect(card).to_have_count(0)
    expect(page.locator(".card.command .exit.ok")).to_have_count(0)
    assert not (workspace(server) / "declined.txt").exists()
    shot(page, tmp_path, "declined")


def test_a_tool_input_question_is_answered_in_a_form(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    questions = [
        {
            "id": "colour",
            "header": "Colour",
            "question": "Which colour should the button be?",
            "options": [
                {"label": "red", "description": "warm"},
                {"label": "blue", "description": "cool"},
            ],
        }
    ]
    model.extend([tool_call("request_user_input", {"questions": questions}), text("Blue it is.")])
    new_session(page, server)
    send(page, "Ask me about the button")
    form = page.locator("#pending form.tool-input")
    expect(form).to_contain_text("Which colour should the button be?")
    expect(page.locator(current_link(page) + " .count")).to_have_text("1")
    form.get_by_label("blue").check()
    shot(page, tmp_path, "question", docs=True)
    form.get_by_role("button", name="Answer").click()
    expect(page.locator(".bubble.assistant")).to_have_text("Blue it is.")
    expect(form).to_have_count(0)
    [output] = model.requests[-1].function_call_outputs()
    assert '"colour":{"answers":["blue"]}' in str(output["output"]).replace(" ", "")


def test_the_prompt_steers_a_running_turn_and_interrupts_it(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    # The model never answers this turn: it runs until interrupted. Tied to its prompt, so
    # no other session's request takes the stall. codex may ask the model again once the
    # steer is in (then the steer is the last prompt): that call stalls too.
    model.add(stall(), match="think hard")
    model.add(stall(), match="consider this too")
    new_session(page, server)
    send(page, "think hard")
    expect(page.locator("#send")).to_have_text("Steer")
    expect(page.locator("#interrupt")).to_be_visible()
    model_asked(model, "think hard")  # a steer before it would become the turn's prompt
    page.fill("#prompt", "consider this too")
    page.press("#prompt", "Enter")
    expect(page.locator("#prompt")).to_have_value("")  # the steer was taken
    expect(page.locator("#toast")).to_be_hidden()
    expect(page.locator("#turn-state")).to_have_text("working…")
    page.click("#interrupt")
    expect(page.locator("#turn-state")).to_have_text("turn interrupted")
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#interrupt")).to_be_hidden()
    expect(page.locator(".bubble.user")).to_have_text(["think hard", "consider this too"])
    shot(page, tmp_path, "interrupted")


def test_file_changes_show_as_diffs_and_a_failed_turn_says_why(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    (workspace(server) / "notes.txt").write_text("one\ntwo\n")
    patch = (
        "*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n-two\n+three\n"
        "*** Add File: hello.txt\n+hello\n*** End Patch\n"
    )
    model.extend([apply_patch(patch), text("Edited."), failure("the model is overloaded")])
    new_session(page, server)
    send(page, "Edit the notes")
    expect(page.locator(".bubble.assistant")).to_have_text("Edited.")
    files = page.locator(".card.files")
    expect(files.locator(".path")).to_have_text(["add hello.txt", "update notes.txt"])
    expect(files.locator(".diff .del")).to_contain_text(["two"])
    expect(files.locator(".diff .add")).to_have_text(["hello\n", "+three\n"])
    assert (workspace(server) / "notes.txt").read_text() == "one\nthree\n"
    expect(page.locator("#send")).to_have_text("Send")
    shot(page, tmp_path, "diff", docs=True)
    send(page, "Once more")
    expect(page.locator(".card.error")).to_contain_text("the model is overloaded")
    expect(page.locator("#turn-state")).to_have_text("turn failed")


def test_a_reload_finds_the_same_state(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    model.extend(
        [text("First answer."), shell("touch later.txt", escalate=True), text("Done later.")]
    )
    session_id = new_session(page, server)
    ask_before_running(page)
    send(page, "Answer me")
    expect(page.locator(".bubble.assistant")).to_have_text("First answer.")
    expect(page.locator("#turn-state")).to_have_text("")
    send(page, "Now make a file")
    expect(page.locator("#pending .approval")).to_contain_text("touch later.txt")
    usage = page.locator("#usage").inner_text()
    assert "tokens" in usage
    page.fill("#prompt", "a draft I did not send")

    page.reload()
    expect(page.locator("#title")).to_have_text("Untitled session")
    assert page.url.endswith("#session=" + session_id)
    expect(page.locator(".bubble.user")).to_have_text(["Answer me", "Now make a file"])
    expect(page.locator(".bubble.assistant")).to_have_text(["First answer."])
    expect(page.locator("#pending .approval")).to_contain_text("touch later.txt")
    expect(page.locator(current_link(page) + " .count")).to_have_text("1")
    expect(page.locator("#usage")).to_have_text(usage)
    expect(page.locator("#prompt")).to_have_value("a draft I did not send")
    expect(page.locator("#send")).to_have_text("Steer")  # the turn still runs
    shot(page, tmp_path, "reloaded")
    page.locator("#pending .approval").get_by_role("button", name="Accept", exact=True).click()
    expect(page.locator(".bubble.assistant").last).to_have_text("Done later.")
    expect(page.locator("#send")).to_have_text("Send")


def test_session_controls_and_settings_are_set_from_the_page(
    page: Page, server: ServeProcess, tmp_path: Path
) -> None:
    session_id = new_session(page, server)
    page.click("#controls summary")
    page.select_option("#c-approval", "never")
    page.select_option("#c-network", "enabled")
    page.click("#controls-form button[type=submit]")
    expect(page.locator("#controls-note")).to_have_text("applied")
    page.fill("#c-settings", "[1, 2]")
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-note")).to_have_text("settings must be a JSON object")
    page.fill("#c-settings", '{"supervisor": {"fileChange": {"mode": "ask"}}}')
    page.click("#settings-form button[type=submit]")
    expect(page.locator("#settings-note")).to_have_text("saved")
    with server.client() as client:
        base = f"/api/sessions/{session_id}"
        controls = client.get(f"{base}/session-controls").json()["controls"]
        assert (controls["approvalPolicy"], controls["networkAccess"]) == ("never", "enabled")
        supervisor = client.get(f"{base}/settings", params={"key": "supervisor"}).json()
        assert supervisor["value"] == {"fileChange": {"mode": "ask"}}
    shot(page, tmp_path, "controls", docs=True)
    page.reload()
    page.click("#controls summary")
    expect(page.locator("#c-approval")).to_have_value("never")
    expect(page.locator("#c-network")).to_have_value("enabled")
    expect(page.locator("#c-settings")).to_have_value(re.compile(r'"mode": "ask"'))
    page.click("#controls summary")


def test_older_history_loads_as_you_scroll_up(
    page: Page, server: ServeProcess, tmp_path: Path
) -> None:
    # A long transcript, written through the contract's upsert route (no turns needed).
    with server.client() as client:
        created = client.post("/api/sessions", json={"cwd": str(workspace(server))})
        session_id = created.json()["session"]["sessionId"]
        for n in range(200):
            entry = {
                "messageId": f"note-{n}",
                "turnId": "history",
                "role": "assistant" if n % 2 else "user",
                "type": "agentMessage" if n % 2 else "userMessage",
                "content": f"message {n}",
                "status": "complete",
            }
            upsert = client.post(f"/api/sessions/{session_id}/transcript/upsert", json=entry)
            assert upsert.status_code == 200, upsert.text
    page.goto(f"{server.url}/#session={session_id}")
    entries = page.locator("#transcript .entry")
    expect(entries).to_have_count(150)  # the newest ones
    expect(entries.last).to_have_text("message 199")
    page.locator("#transcript").evaluate("t => { t.scrollTop = 0; }")
    expect(entries).to_have_count(200)
    expect(entries.first).to_have_text("message 0")
    expect(page.locator("#transcript .more")).to_have_count(0)
    shot(page, tmp_path, "history")


def test_a_narrow_window_keeps_the_sidebar_in_a_drawer_and_the_keyboard_works(
    page: Page, server: ServeProcess, model: ScriptedModel, tmp_path: Path
) -> None:
    model.add(text("Typed without a mouse."))
    page.set_viewport_size({"width": 390, "height": 780})
    try:
        sidebar = page.locator("#sidebar")
        expect(sidebar).not_to_be_in_viewport()
        page.keyboard.press("Alt+n")  # a new session: the drawer opens at its form
        expect(sidebar).to_be_in_viewport()
        expect(page.locator("#new-cwd")).to_be_focused()
        page.keyboard.press("Control+a")
        page.keyboard.type(str(workspace(server)))
        page.keyboard.press("Enter")
        expect(page.locator("#prompt")).to_be_focused()
        expect(sidebar).not_to_be_in_viewport()
        page.keyboard.type("Hello from the keyboard")
        page.keyboard.press("Enter")
        expect(page.locator(".bubble.assistant")).to_have_text("Typed without a mouse.")
        box = page.locator("#composer").bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 390  # nothing off the side
        shot(page, tmp_path, "narrow", docs=True)
    finally:
        page.set_viewport_size({"width": 1100, "height": 700})


def test_projects_and_sessions_are_managed_from_the_sidebar(
    page: Page, server: ServeProcess, tmp_path: Path
) -> None:
    page.fill("#new-project-name", "Alpha")
    page.press("#new-project-name", "Enter")
    alpha = page.locator("#session-list section[aria-label=Alpha]")
    expect(alpha).to_contain_text("No sessions")
    page.select_option("#new-project", label="Alpha")
    session_id = new_session(page, server)
    link = f'.session-link[data-id="{session_id}"]'
    expect(alpha.locator(link)).to_be_visible()
    shot(page, tmp_path, "projects")

    page.select_option("#move-project", label="No project")
    expect(alpha.locator(link)).to_have_count(0)
    expect(page.locator(f"#session-list section[aria-label='No project'] {link}")).to_be_visible()

    page.click("#archive")
    expect(page.locator(link)).to_have_count(0)  # archived ones are hidden by default
    expect(page.locator("#session")).to_be_hidden()
    page.check("#show-archived")
    expect(page.locator(link + " .tag")).to_have_text("archived")
    page.click(link)
    expect(page.locator("#session")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#archive")).to_have_text("Unarchive")
    page.click("#archive")
    expect(page.locator(link + " .tag")).to_have_count(0)
    page.uncheck("#show-archived")

    page.click("#delete")
    expect(page.locator("#delete")).to_have_text("Sure?")  # a second click deletes
    page.click("#delete")
    expect(page.locator(link)).to_have_count(0)
    expect(page.locator("#session")).to_be_hidden()
    with server.client() as client:
        assert client.get(f"/api/sessions/{session_id}").status_code == 410

    remove = alpha.get_by_role("button", name="Delete project Alpha")
    remove.click()
    expect(remove).to_have_text("Sure?")
    remove.click()
    expect(alpha).to_have_count(0)


def test_the_page_reconnects_to_a_restarted_server_and_carries_on(
    browser: Browser, model: ScriptedModel, tmp_path: Path
) -> None:
    """The server stops and starts again on the same port and data dir: the page's cookie
    still works, its live stream reconnects by itself, and a new reply streams in (the
    new server counts its frames from 0 again: none may be taken for one already seen)."""
    (tmp_path / "work").mkdir()
    args = ["--no-profile", "--allowed-root", str(tmp_path / "work")]
    first = ServeProcess.scripted(model, tmp_path, args=args).start()
    context = browser.new_context(viewport={"width": 1100, "height": 700})
    try:
        page = context.new_page()
        console = Console(page)
        page.goto(first.login_link)
        model.add(text("Before the restart."))
        new_session(page, first)
        send(page, "Hello before")
        expect(page.locator(".bubble.assistant")).to_have_text("Before the restart.")
        expect(page.locator("#send")).to_have_text("Send")  # its turn is over
        # The first server numbered more frames than the second sends up to its reply.
        port = first.url.rsplit(":", 1)[1]
        first.stop()
        expect(page.locator("#conn")).to_have_text(re.compile("offline"))
        again = ServeProcess.scripted(model, tmp_path, args=[*args, "--port", port]).start()
        try:
            assert again.url == first.url
            expect(page.locator("#conn")).to_have_text(re.compile("live"))
            model.add(text("After the restart, streamed as before.", chunks=6))
            send(page, "Hello after")
            expect(page.locator(".bubble.assistant").last).to_have_text(
                "After the restart, streamed as before."
            )
            expect(page.locator("#send")).to_have_text("Send")
            shot(page, tmp_path, "reconnected")
        finally:
            again.stop()
        # The refused reconnection attempts are the browser's own reports; nothing else.
        others = [e for e in console.errors if "WebSocket connection to" not in e]
        assert others == []
    finally:
        context.close()
