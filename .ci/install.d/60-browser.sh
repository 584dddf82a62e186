# Headless Chromium and its ChromeDriver from Debian, for the live tests that log in to the UIs
# in a real browser (tests/live/browser.py drives them with Selenium; nothing is downloaded at
# test time).
apt_install chromium chromium-driver
chromium --version >/dev/null
chromedriver --version >/dev/null
