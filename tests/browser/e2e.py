#!/usr/bin/env python3
"""End to end in a real browser: Debian's chromium driven by chromedriver through selenium.

A clerk logs in, uploads a broken period file, fixes it from the line the page shows, renders
the drafts, previews one, submits them for approval; sending now sends nothing (they wait); an
approver logs in and approves them; the clerk sends; an admin opens the delivery ledger. A screenshot of each page
goes to --shots. Prints "LEDGER <n>": the Message-IDs the ledger page lists, for the Rust test
to compare with the messages the SMTP server received.

Usage: e2e.py --base http://127.0.0.1:PORT --shots DIR --broken FILE --clerk NAME
              --approver NAME --admin NAME
(the password comes from the VANBAN_E2E_PASSWORD environment variable).
"""
import argparse
import os
import re
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--broken", required=True)
    ap.add_argument("--clerk", required=True)
    ap.add_argument("--approver", required=True)
    ap.add_argument("--admin", required=True)
    args = ap.parse_args()
    password = os.environ["VANBAN_E2E_PASSWORD"]
    os.makedirs(args.shots, exist_ok=True)

    options = webdriver.ChromeOptions()
    # Debian's browser and driver, given explicitly: selenium's driver manager cannot download.
    options.binary_location = "/usr/bin/chromium"
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--window-size=1366,768", "--lang=vi"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    wait = WebDriverWait(driver, 60)
    try:
        run(driver, wait, args, password)
    finally:
        driver.quit()


def shot(driver, args, name):
    driver.save_screenshot(os.path.join(args.shots, name))


def login(driver, wait, args, user, password):
    driver.get(args.base + "/login")
    wait.until(EC.presence_of_element_located((By.NAME, "username")))
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "header.top")))


def gone(element):
    """The page holding `element` has been replaced. Chromedriver reports a node of a page
    being torn down either as stale or, mid-navigation, as "does not belong to the document":
    both mean it is gone (EC.staleness_of knows only the first, and failed on the second)."""

    def check(_driver):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    return check


def upload(driver, wait, path):
    # The page before the upload may itself show #problems (a second upload after a broken
    # one): wait for it to be replaced, not for an element it already has.
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "#upload-form input[name=file]").send_keys(path)
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    wait.until(gone(before))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#problems, p.ok")))


def run(driver, wait, args, password):
    driver.get(args.base + "/")
    wait.until(EC.presence_of_element_located((By.NAME, "username")))
    shot(driver, args, "01-dang-nhap.png")
    login(driver, wait, args, args.clerk, password)
    shot(driver, args, "02-ky-bao-cao.png")

    # A broken file: the page names the file, line and key of each problem.
    upload(driver, wait, args.broken)
    problems = driver.find_element(By.ID, "problems").text
    shot(driver, args, "03-loi-tep.png")
    name = os.path.basename(args.broken)
    lines = sorted({int(m) for m in re.findall(re.escape(name) + r":(\d+):", problems)})
    assert lines, problems
    # The clerk fixes each line the page points at (here: the minus sign typed by mistake).
    text = open(args.broken, encoding="utf-8").read().split("\n")
    for n in lines:
        text[n - 1] = text[n - 1].replace("= -", "= ")
    fixed_dir = tempfile.mkdtemp()
    fixed = os.path.join(fixed_dir, name)
    open(fixed, "w", encoding="utf-8").write("\n".join(text))
    upload(driver, wait, fixed)
    assert "hợp lệ" in driver.find_element(By.CSS_SELECTOR, "p.ok").text
    driver.find_element(By.CSS_SELECTOR, "a.button").click()

    # Drafts, then a preview with its page thumbnails and the PDF in the page.
    wait.until(EC.presence_of_element_located((By.ID, "documents")))
    driver.find_element(By.XPATH, "//button[contains(., 'Tạo bản nháp')]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.result")))
    shot(driver, args, "04-ky-van-ban.png")
    driver.find_element(By.PARTIAL_LINK_TEXT, "Xem trước").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ol.thumbs img")))
    wait.until(lambda d: d.execute_script(
        "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"))
    shot(driver, args, "05-xem-truoc.png")
    driver.set_window_size(390, 844)
    shot(driver, args, "06-xem-truoc-dien-thoai.png")
    driver.set_window_size(1366, 768)
    period_url = driver.current_url.split("/documents/")[0]
    driver.get(period_url)

    # Submit for approval; a send before the approval sends nothing and uses no number.
    wait.until(EC.presence_of_element_located((By.ID, "documents")))
    driver.find_element(By.XPATH, "//button[contains(., 'Trình duyệt')]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.result")))
    assert "Đã trình duyệt" in driver.find_element(By.CSS_SELECTOR, "div.result").text
    steps = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#documents .step")]
    assert steps and all(s == "chờ duyệt" for s in steps), steps
    driver.find_element(By.XPATH, "//button[contains(., 'Cấp số và gửi')]").click()
    WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.result")))
    assert "chờ duyệt" in driver.find_element(By.CSS_SELECTOR, "div.result").text
    shot(driver, args, "07a-cho-duyet.png")
    driver.find_element(By.XPATH, "//button[contains(., 'Đăng xuất')]").click()
    wait.until(EC.presence_of_element_located((By.NAME, "username")))

    # The approver reads the same page and approves every draft (the page asks first).
    login(driver, wait, args, args.approver, password)
    driver.get(period_url)
    wait.until(EC.presence_of_element_located((By.ID, "documents")))
    driver.find_element(By.XPATH, "//button[normalize-space(.)='Duyệt']").click()
    WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.result")))
    steps = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#documents .step")]
    assert steps and all(s == "đã duyệt" for s in steps), steps
    shot(driver, args, "07b-lanh-dao-duyet.png")
    driver.find_element(By.XPATH, "//button[contains(., 'Đăng xuất')]").click()
    wait.until(EC.presence_of_element_located((By.NAME, "username")))

    # Send: the page asks first.
    login(driver, wait, args, args.clerk, password)
    driver.get(period_url)
    wait.until(EC.presence_of_element_located((By.ID, "documents")))
    driver.find_element(By.XPATH, "//button[contains(., 'Cấp số và gửi')]").click()
    WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "div.result")))
    steps = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#documents .step")]
    assert steps and all(s == "đã gửi" for s in steps), steps
    shot(driver, args, "07-da-gui.png")
    driver.find_element(By.XPATH, "//button[contains(., 'Đăng xuất')]").click()
    wait.until(EC.presence_of_element_located((By.NAME, "username")))

    # The admin reads the delivery ledger.
    login(driver, wait, args, args.admin, password)
    driver.get(args.base + "/admin/ledger")
    wait.until(EC.presence_of_element_located((By.ID, "rows")))
    ids = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#rows tbody td:nth-child(6)")
           if "@" in c.text]
    shot(driver, args, "08-so-gui-thu.png")
    print("LEDGER", len(ids))


if __name__ == "__main__":
    sys.exit(main())
