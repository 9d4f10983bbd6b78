"""The dashboard in a real headless Chromium, against a real fleet, agents and simulators:
a district operator sees only their district (overview and map), acknowledges the alert a
simulated tilt sensor raised, and dims their street's lamps (the simulated registers change,
the other district's do not). Screenshots land in tests/e2e/screenshots/."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from tests.e2e.browser import chromium, eventually, shot
from tests.integration.e2e_harness import E2E, Bus, SimDevice, unique_id, wait_until
from tests.integration.ops_support import Api, read_holding, write_holding
from tests.services import Broker

WUHOU = "chengdu/wuhou/street-7"
JINJIANG = "chengdu/jinjiang/street-1"


def _gateway(e2e: E2E, port: int, broker: Broker, *, tilt: bool) -> Any:
    devices = [SimDevice(name="lamp", driver="streetlight_dimmer", unit=1)]
    if tilt:
        devices.append(SimDevice(name="tilt", driver="pole_tilt", unit=2))
    return e2e.agent(device_id=unique_id("pole"), broker_url=broker.url,
                     buses=[Bus(name="lan", tcp_port=port, devices=devices)])  # fmt: skip


def _login(driver: WebDriver, base: str, key: str) -> None:
    driver.get(base + "/ui/login")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.ID, "login").submit()
    eventually(lambda: driver.current_url.endswith("/ui/"), timeout=10, what="the overview")


def test_district_operator_dashboard(e2e: E2E, db_url: str, private_broker: Broker) -> None:
    sim_a = e2e.simulator("streetlight_dimmer:1", "pole_tilt:2")
    sim_b = e2e.simulator("streetlight_dimmer:1")
    fleet = e2e.fleet(db_url=db_url, broker_url=private_broker.url)
    admin = Api(fleet.http_url)
    mine = _gateway(e2e, sim_a.port, private_broker, tilt=True)
    theirs = _gateway(e2e, sim_b.port, private_broker, tilt=False)
    for agent in (mine, theirs):
        wait_until(lambda a=agent: admin.call("GET", f"/api/v1/devices/{a.device_id}").status_code
                   == 200, timeout=30, what="gateway known", logs=e2e.logs)  # fmt: skip
    admin.place(mine.device_id, "WH-07-0001", WUHOU, 30.642, 104.043)
    admin.place(theirs.device_id, "JJ-01-0001", JINJIANG, 30.657, 104.081)
    admin.ok("POST", "/api/v1/alert-rules", json={
        "name": "pole tilt", "kind": "threshold", "channel": "x_angle", "threshold": 5.0,
        "hysteresis": 1.0, "min_duration_s": 1.0, "severity": "critical",
    })  # fmt: skip
    operator = {"name": "wuhou-ops", "role": "operator", "scope": "chengdu/wuhou"}
    created = admin.ok("POST", "/api/v1/access/keys", json=operator)
    before_b = read_holding(sim_b.port, 1, 0)

    with chromium() as driver:
        base = fleet.http_url
        _login(driver, base, created["key"])
        body = driver.find_element(By.TAG_NAME, "body").text
        assert mine.device_id in body
        assert theirs.device_id not in body
        assert "jinjiang" not in body
        assert driver.find_element(By.ID, "total").text == "1"
        shot(driver, "overview")

        driver.get(base + "/ui/map")
        eventually(lambda: driver.find_element(By.ID, "marker-count").text == "1", timeout=10,
                   what="one marker")  # fmt: skip
        assert driver.find_element(By.ID, "map").get_attribute("data-devices") == mine.device_id
        assert len(driver.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) == 1
        shot(driver, "map")

        write_holding(sim_a.port, 2, 0, 750)  # the pole leans 7.5 degrees
        driver.get(base + "/ui/alerts")
        eventually(lambda: len(driver.find_elements(By.CSS_SELECTOR, "button.ack")) == 1,
                   timeout=30, what="the tilt alert", refresh=driver)  # fmt: skip
        assert mine.device_id in driver.find_element(By.ID, "alerts").text
        driver.find_element(By.CSS_SELECTOR, "button.ack").click()
        eventually(lambda: "acknowledged" in driver.find_element(By.ID, "alerts").text,
                   timeout=10, what="the alert acknowledged")  # fmt: skip
        assert "ack: wuhou-ops" in driver.find_element(By.ID, "alerts").text
        shot(driver, "alerts")
        [alert] = admin.ok("GET", "/api/v1/alerts", params={"device_id": mine.device_id})["items"]
        assert alert["status"] == "acknowledged"
        assert alert["acknowledged_by"].startswith("wuhou-ops")

        driver.get(base + "/ui/commands")
        groups = [
            o.get_attribute("value") for o in Select(driver.find_element(By.ID, "group")).options
        ]
        assert JINJIANG not in groups
        Select(driver.find_element(By.ID, "group")).select_by_value(WUHOU)
        value = driver.find_element(By.ID, "value")
        value.clear()
        value.send_keys("40")
        driver.find_element(By.ID, "send").click()
        wait_until(lambda: read_holding(sim_a.port, 1, 0) == 40, timeout=20,
                   what="the lamp dimmed to 40 %", logs=e2e.logs)  # fmt: skip
        assert read_holding(sim_b.port, 1, 0) == before_b
        eventually(lambda: "done" in driver.find_element(By.ID, "commands").text, timeout=20,
                   what="the command done", refresh=driver)  # fmt: skip
        shot(driver, "commands")

        driver.get(base + f"/ui/devices/{mine.device_id}")
        assert driver.find_element(By.ID, "status").text == "online"
        assert "tilt/x_angle" in driver.find_element(By.ID, "live").text
        assert driver.find_elements(By.CSS_SELECTOR, ".chart polyline")
        shot(driver, "device")
        driver.get(base + f"/ui/devices/{theirs.device_id}")
        assert "no device" in driver.find_element(By.TAG_NAME, "body").text
        driver.get(base + "/ui/rollouts")
        assert "managed fleet-wide" in driver.find_element(By.TAG_NAME, "main").text

    with chromium(width=390, height=844, phone=True) as phone:
        _login(phone, fleet.http_url, created["key"])
        assert phone.execute_script("return document.documentElement.scrollWidth") <= 400
        shot(phone, "overview-phone")
