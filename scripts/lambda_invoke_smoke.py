"""`make lambda-invoke-smoke`: the README's "Running one handler with a fixture", its no-rebuild way.

It starts `make up`'s stack (scripts/up.sh), `cargo lambda watch --only-lambda-apis` with the pinned
cargo-lambda (.venv-sam/bin on PATH) and both handlers as `make build` built them
(scripts/run-handler.sh: local.env's variables, watch's runtime API), so nothing is compiled: a
`cargo lambda watch` that builds the handlers itself would compile the AWS SDK once more, as
`cargo run --bin` resolves features without the dev-dependencies `make build` has. Then it checks
each invocation's effect in the twin:

* `cargo lambda invoke whatsapp-handler --data-file tests/fixtures/eum-text.json` opens a Connect chat
  carrying the fixture's text from its customer;
* `cargo lambda invoke connect-handler --data-file <tests/fixtures/connect-stream-agent-message.json
  naming that chat>` sends the agent's text to that customer on WhatsApp. The fixture names a contact of
  its own, which no conversation maps to (ConnectHandler would drop it as unknown_contact), so its
  contact ids are set to the chat the first invocation opened.

Everything started here is stopped on the way out, after a failure, Ctrl-C or SIGTERM too: each
command runs in a session of its own, and every process of those sessions and their descendants is
ended (the twin gives each handler a process group of its own).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TWIN = "http://127.0.0.1:4566"
# Not 9000, cargo lambda watch's default, which a developer's own watch may hold.
INVOKE_PORT = "9010"
INVOKE_FLAGS = ["--invoke-address", "127.0.0.1", "--invoke-port", INVOKE_PORT]
HANDLERS = ("whatsapp-handler", "connect-handler")
EUM_FIXTURE = REPO / "tests/fixtures/eum-text.json"
CONNECT_FIXTURE = REPO / "tests/fixtures/connect-stream-agent-message.json"
INVOKE_TIMEOUT = 120
STARTUP_TIMEOUT = 300


class Failed(Exception):
    """A check that did not hold; its message is the one line the run ends with."""


def env():
    """The environment of `cargo lambda …`: the pinned cargo-lambda first on PATH, as the README says."""
    e = dict(os.environ)
    e["PATH"] = f"{REPO / '.venv-sam/bin'}{os.pathsep}{e.get('PATH', '')}"
    return e


def live_processes():
    """pid → (parent pid, session id) of every process that has not ended (zombies have)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (field 2) may hold spaces: the fields after it start at the last ')'.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z":
            table[int(stat.parent.name)] = (int(fields[1]), int(fields[3]))
    return table


def started_here(sids):
    """The processes of sessions `sids` and their descendants, which may have sessions of their own."""
    table = live_processes()
    pids = {pid for pid, (_, sid) in table.items() if sid in sids}
    while True:
        children = {pid for pid, (parent, _) in table.items() if parent in pids} - pids
        if not children:
            return pids
        pids |= children


def stop_all(leaders):
    """Ends everything `leaders` (Popen objects, each the leader of a new session) started."""
    sids = {leader.pid for leader in leaders}
    targets = started_here(sids)
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        for pid in targets:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while targets and time.monotonic() < deadline:
            time.sleep(0.2)
            # A process whose parent ended has left the tree: the ones already known are kept.
            targets = (targets & live_processes().keys()) | started_here(sids)
        if not targets:
            break
    for leader in leaders:
        leader.wait()


def get(path):
    with urllib.request.urlopen(TWIN + path, timeout=90) as answer:
        return json.load(answer)


def wait_for(what, check, timeout, process):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Failed(f"{what}: the process exited with status {process.returncode} (log below)")
        if check():
            return
        time.sleep(0.5)
    raise Failed(f"{what}: not within {timeout} s (log below)")


def port_answers(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", int(port))) == 0


def invoke(function, data_file, handler):
    """`cargo lambda invoke`; its output (the handler's answer), or Failed with cargo-lambda's error."""
    if handler.poll() is not None:
        raise Failed(f"{function}: the handler exited with status {handler.returncode} (log below)")
    command = ["cargo", "lambda", "invoke", function, *INVOKE_FLAGS, "--data-file", str(data_file)]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True, timeout=INVOKE_TIMEOUT)
    if done.returncode != 0:
        raise Failed(f"{function}: cargo lambda invoke failed: {done.stderr.strip() or done.stdout.strip()}")
    print(done.stdout.strip(), flush=True)
    return done.stdout


def webhook_message(fixture):
    """The WhatsApp message inside an EUM fixture (SNS → EUM envelope → Meta's webhook entry)."""
    envelope = json.loads(json.loads(fixture.read_text())["Records"][0]["Sns"]["Message"])
    return json.loads(envelope["whatsAppWebhookEntry"])["changes"][0]["value"]["messages"][0]


def chat_opened(text):
    """The contact id of the one chat in the twin, which must carry `text` from the customer."""
    contacts = get("/_twin/contacts")
    if len(contacts) != 1:
        raise Failed(f"whatsapp-handler: {len(contacts)} chats in the twin, 1 expected")
    said = [i["content"] for i in contacts[0]["transcript"] if i["role"] == "CUSTOMER" and i["type"] == "MESSAGE"]
    if text not in said:
        raise Failed("whatsapp-handler: the chat does not carry the fixture's text from the customer")
    return contacts[0]["contact_id"]


def connect_event_for(contact_id, out):
    """The Connect fixture with its contact ids set to `contact_id`; the agent's text it carries."""
    event = json.loads(CONNECT_FIXTURE.read_text())
    sns = event["Records"][0]["Sns"]
    item = json.loads(sns["Message"])
    item["ContactId"] = item["InitialContactId"] = contact_id
    sns["Message"] = json.dumps(item, ensure_ascii=False)
    for name in ("ContactId", "InitialContactId"):
        sns["MessageAttributes"][name]["Value"] = contact_id
    out.write_text(json.dumps(event, ensure_ascii=False, indent=2))
    return item["Content"]


def check_sent(customer, text):
    sent = [s["message"] for s in get("/_twin/whatsapp/sent")]
    if not any(m.get("to", "").lstrip("+") == customer and m.get("text", {}).get("body") == text for m in sent):
        raise Failed(f"connect-handler: the agent's text was not sent to the customer ({len(sent)} WhatsApp sends)")


def start(command, log, sessions, environment=None):
    """Starts `command` in a session of its own (added to `sessions`), its output going to `log`."""
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    sessions.append(process)
    return process


def run(work, sessions):
    if port_answers(INVOKE_PORT):
        raise Failed(f"127.0.0.1:{INVOKE_PORT} is in use; stop what holds it first")
    up = start([str(REPO / "scripts/up.sh")], work / "up.log", sessions)
    watch_cmd = ["cargo", "lambda", "watch", "--only-lambda-apis", *INVOKE_FLAGS]
    print("$", " ".join(watch_cmd), flush=True)
    watch = start(watch_cmd, work / "watch.log", sessions, env())
    wait_for("make up (scripts/up.sh)", lambda: "\nready\n" in (work / "up.log").read_text(), STARTUP_TIMEOUT, up)
    wait_for("cargo lambda watch", lambda: port_answers(INVOKE_PORT), STARTUP_TIMEOUT, watch)
    handlers = {}
    for name in HANDLERS:
        command = ["scripts/run-handler.sh", name, f"127.0.0.1:{INVOKE_PORT}"]
        print("$", " ".join(command), flush=True)
        handlers[name] = start(command, work / f"{name}.log", sessions)

    message = webhook_message(EUM_FIXTURE)
    invoke("whatsapp-handler", EUM_FIXTURE, handlers["whatsapp-handler"])
    contact_id = chat_opened(message["text"]["body"])
    print(f"whatsapp-handler opened chat {contact_id} in the twin", flush=True)

    event = work / "connect-stream-agent-message.json"
    agent_text = connect_event_for(contact_id, event)
    invoke("connect-handler", event, handlers["connect-handler"])
    check_sent(message["from"], agent_text)
    print("connect-handler sent the agent's text on WhatsApp", flush=True)


def main():
    # SIGTERM (CI cancelling the job) unwinds like Ctrl-C, so the processes are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sessions = []
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lambda-invoke-smoke.") as tmp:
        work = Path(tmp)
        try:
            run(work, sessions)
        except (Failed, subprocess.TimeoutExpired) as e:
            for log in ("up.log", "watch.log", *(f"{name}.log" for name in HANDLERS)):
                path = work / log
                if path.exists():
                    lines = path.read_text(errors="replace").splitlines()[-40:]
                    print(f"--- last lines of {log}", *lines, sep="\n", file=sys.stderr)
            print(f"lambda-invoke-smoke: {e}", file=sys.stderr)
            return 1
        finally:
            stop_all(sessions)
    print(f"lambda-invoke-smoke: ok in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
