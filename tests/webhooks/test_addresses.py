"""Which webhook URLs and addresses are refused (SSRF), without DNS."""

from __future__ import annotations

import ipaddress

import pytest

from services.loans.webhooks.addresses import check_url, refusal


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("93.184.215.14", None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104  (an address judged, not bound)
        ("::", "unspecified"),
        ("192.0.2.1", "reserved"),  # documentation
        ("240.0.0.1", "reserved"),
        ("198.18.0.1", "reserved"),  # benchmarking
        # IPv6 carrying an IPv4 address: judged by the IPv4 one too.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::7f00:1", "loopback"),  # local-use NAT64 of 127.0.0.1
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
    ],
)
def test_refusal_classes(address: str, reason: str | None) -> None:
    assert refusal(ipaddress.ip_address(address), allow_loopback=False) == reason


def test_the_development_setting_admits_loopback_only() -> None:
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert refusal(ipaddress.ip_address(address), allow_loopback=True) is None
    for address in ("10.0.0.1", "169.254.169.254", "0.0.0.0", "fd00::1"):  # noqa: S104
        assert refusal(ipaddress.ip_address(address), allow_loopback=True) is not None


def test_a_public_https_url_passes() -> None:
    assert check_url("https://hooks.tzbank.example/innocredit?x=1", allow_loopback=False) == []
    assert check_url("https://93.184.215.14:8443/hook", allow_loopback=False) == []


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://hooks.tzbank.example/", "must use https"),
        ("ftp://hooks.tzbank.example/", "must use https"),
        ("https://user:pw@hooks.tzbank.example/", "user name or password"),
        ("https://hooks.tzbank.example/#top", "fragment"),
        ("https:///no-host", "with a host"),
        ("/relative/path", "with a host"),
        ("https://127.0.0.1/", "loopback address"),
        ("https://[::1]:8443/", "loopback address"),
        ("https://10.0.0.8/", "private address"),
        ("https://169.254.169.254/latest/meta-data", "link-local address"),
        ("https://[::ffff:192.168.0.1]/", "private address"),
        ("https://0.0.0.0/", "unspecified address"),
        ("https://localhost/", "localhost"),
        ("https://api.localhost./", "localhost"),
        ("https://2130706433/", "as a number"),
        ("https://0x7f.1/", "as a number"),
        ("https://127.1/", "as a number"),
        ("https://010.0.0.1/", "as a number"),
        ("https://hooks.example/" + "a" * 2000, "longer than 2,000"),
    ],
)
def test_refused_urls(url: str, says: str) -> None:
    problems = check_url(url, allow_loopback=False)
    assert any(says in p for p in problems), problems


def test_the_development_setting_admits_loopback_endpoints_over_http_too() -> None:
    for url in ("http://127.0.0.1:8765/hook", "https://localhost:8443/", "http://[::1]:9/"):
        assert check_url(url, allow_loopback=True) == [], url
    # ...but not http elsewhere, nor private addresses.
    assert check_url("http://hooks.tzbank.example/", allow_loopback=True) == ["must use https"]
    assert check_url("https://192.168.0.1/", allow_loopback=True) != []
    assert check_url("http://10.0.0.1/", allow_loopback=True) != []


def test_translated_public_addresses_pass() -> None:
    for address in ("::ffff:93.184.215.14", "64:ff9b::5db8:d70e", "2002:5db8:d70e::1"):
        assert refusal(ipaddress.ip_address(address), allow_loopback=False) is None, address
