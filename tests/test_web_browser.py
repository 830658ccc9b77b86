"""The web demo in a real browser: the server runs on a tiny I-LoRA checkpoint trained one step on AVSynth,
headless Chromium (Debian's, driven by Selenium) uploads a clip and runs two task types, and the answer, the
mask overlay and the routing chips appear. A corrupt upload gets the CLI's message.

Integration tier: skipped, saying why, without Chromium + chromedriver or the web extra
(``bash scripts/setup.sh web``; CI installs both). ``CRABPLUS_SCREENSHOT=docs/images/web-demo.png`` also
writes the page's screenshot there (docs/model.md shows it).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time

import pytest

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Chromium and chromedriver (Debian: apt-get install "
                                                         "chromium chromium-driver)"),
]
gr = pytest.importorskip("gradio", reason="needs the web extra (bash scripts/setup.sh web)")
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (bash scripts/setup.sh web)")

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from crabplus.cli.main import main  # noqa: E402
from crabplus.infer import Predictor  # noqa: E402
from crabplus.train import train  # noqa: E402
from crabplus.train.run_config import load_config  # noqa: E402
from crabplus.web.app import build_demo  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1400"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(small_avsynth, tmp_path_factory):
    root = small_avsynth
    cfg = load_config(None, [
        f"data.train=[{root}]", f"data.root={root}", "data.image_size=56",
        f"output_dir={tmp_path_factory.mktemp('web-run')}", "model.ilora.rank=4", "model.ilora.alpha=8",
        "train.batch_size=2", "train.max_steps=1",
    ])
    checkpoint = train(cfg).checkpoint
    demo = build_demo(Predictor.from_checkpoint(checkpoint), max_new_tokens=12)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tempfile.mkdtemp(prefix='crab-chromium-')}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield driver, f"http://127.0.0.1:{port}/", root, checkpoint
    finally:
        driver.quit()
        demo.close()


def pick_task(driver, name: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, "#crab-task input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(f"{name} —")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=option]"))
    driver.find_elements(By.CSS_SELECTOR, "[role=option]")[0].click()
    assert box.get_attribute("value").startswith(f"{name} —")


def run_and_wait(driver, previous_routing: str | None = None) -> str:
    driver.find_element(By.CSS_SELECTOR, "#crab-run").click()
    wait = WebDriverWait(driver, 45, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#crab-routing .crab-token")
               and d.find_element(By.CSS_SELECTOR, "#crab-routing").get_attribute("innerHTML") != previous_routing)
    return driver.find_element(By.CSS_SELECTOR, "#crab-routing").get_attribute("innerHTML")


def test_upload_two_tasks_see_answer_overlay_and_routing(served, tmp_path):
    driver, url, root, _ = served
    clip = sorted((root / "cremad").rglob("*.mp4"))[0]
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#crab-video input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#crab-video input[type=file]").send_keys(str(clip))

    pick_task(driver, "s4")  # segmentation on the clip's middle frame: the overlay appears
    routing = run_and_wait(driver)
    answer = driver.find_element(By.CSS_SELECTOR, "#crab-answer textarea").get_attribute("value")
    assert answer.strip()
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#crab-overlay img"))
    chips = driver.find_elements(By.CSS_SELECTOR, "#crab-routing .crab-token")
    layers = driver.find_elements(By.CSS_SELECTOR, "#crab-routing tr")
    assert len(layers) == 4 and len(chips) % 4 == 0 and chips  # 4 LLM layers x the answer's tokens
    assert "head 1:" in chips[0].get_attribute("title")
    shot = tmp_path / "web-demo.png"
    driver.save_screenshot(str(shot))
    if os.environ.get("CRABPLUS_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["CRABPLUS_SCREENSHOT"])
    assert shot.stat().st_size > 10_000

    pick_task(driver, "cremad")  # emotion: a new answer, no overlay
    run_and_wait(driver, routing)
    assert driver.find_element(By.CSS_SELECTOR, "#crab-answer textarea").get_attribute("value").strip()
    WebDriverWait(driver, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: not any(e.is_displayed() for e in d.find_elements(By.CSS_SELECTOR, "#crab-overlay")))


def test_a_corrupt_upload_shows_the_cli_message(served, tmp_path, capsys):
    driver, url, _, checkpoint = served
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    assert main(["predict", str(bad), "--task", "cremad", "--checkpoint", str(checkpoint)]) == 1
    err = capsys.readouterr().err.splitlines()  # the log lines (the model loading) come first
    message = next(line for line in err if line.startswith("crabplus predict: error: ")).removeprefix(
        "crabplus predict: error: ")
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#crab-video input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#crab-video input[type=file]").send_keys(str(bad))
    pick_task(driver, "cremad")
    time.sleep(0.5)
    driver.find_element(By.CSS_SELECTOR, "#crab-run").click()
    WebDriverWait(driver, 30).until(lambda d: "broken.mp4" in d.find_element(By.TAG_NAME, "body").text)
    body = driver.find_element(By.TAG_NAME, "body").text
    # The same message; only the file's path differs (the page names Gradio's copy of the upload).
    pieces = [p.strip(" :'") for p in message.split(str(bad)) if p.strip(" :'")]
    assert pieces and all(p in body for p in pieces), (pieces, body)


def test_the_page_shows_the_notes_the_cli_prints(served, tmp_path, capsys):
    """A clip without an audio track: the CLI notes the silent track it used, and the page shows the same note."""
    from helpers.media import write_clip

    driver, url, _, checkpoint = served
    mute = write_clip(tmp_path / "mute.mp4", seconds=1.0, width=64, height=32, audio=False)
    assert main(["predict", str(mute), "--task", "cremad", "--checkpoint", str(checkpoint),
                 "--max-new-tokens", "4"]) == 0
    notes = [line.removeprefix("note: ") for line in capsys.readouterr().out.splitlines() if line.startswith("note: ")]
    assert any("no audio track" in n for n in notes)
    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#crab-video input[type=file]"))
    driver.find_element(By.CSS_SELECTOR, "#crab-video input[type=file]").send_keys(str(mute))
    pick_task(driver, "cremad")
    time.sleep(0.5)
    run_and_wait(driver)
    shown = driver.find_element(By.CSS_SELECTOR, "#crab-notes").text
    # the page names Gradio's copy of the upload: compare what follows the file name
    assert all(n.split(": ", 1)[1] in shown for n in notes), (notes, shown)
