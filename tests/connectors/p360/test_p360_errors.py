"""Every SIF failure becomes the hub's error tree, at one point (connectors/p360/rpc.py)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from connectors.p360 import P360Archive, P360Config
from connectors.p360.rpc import sif_error, sif_reason
from hub.errors import ConfigError, InvalidInput, NotFound, PermanentError, TransientError
from tests.connectors.p360.conftest import case_file
from tests.connectors.p360.helpers import P360Direct

GET_CASES = "/Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/CaseService/GetCases"
RAW = ("Error sending object CreateDocumentTransaction () to receiver SI.Biz.Core. System.Exception: Error executing "
       "statement: Access Group is not a valid for the entity and subtype. AccessGroup=$))'200693'\n<operation>"
       "<INSERTSTATEMENT/></operation> ---> SI.Util.BizInfoException: boom")


@pytest.mark.parametrize("message,error", [
    ("Access denied: the user svc-hub is not authorized to impersonate 'x'.", ConfigError),
    ("Invalid authkey", ConfigError),
    ("Case not found. CaseNumber=$))'99/99999'", NotFound),
    ("File not found. Recno=$))'1'", NotFound),
    (RAW, InvalidInput),
    ("Title is mandatory.", InvalidInput),
    ("Timeout expired. The timeout period elapsed prior to completion of the operation", TransientError),
    ("Transaction (Process ID 71) was deadlocked on lock resources", TransientError),
    ("Something odd happened", PermanentError),
])
def test_sif_messages_map_to_the_error_tree(message: str, error: type[Exception]) -> None:
    assert type(sif_error("X/Y", message)) is error


def test_the_reason_is_cut_out_of_raw_dotnet_text() -> None:
    assert sif_reason(RAW) == "Access Group is not a valid for the entity and subtype. AccessGroup=$))'200693'"


async def test_wrong_key_is_config_error_and_health_says_so(p360_config: P360Config) -> None:
    client = P360Archive(p360_config.model_copy(update={"auth_key": SecretStr("wrong")}))
    try:
        with pytest.raises(ConfigError):
            await client.find_case_files("x")
        health = await client.health()
    finally:
        await client.aclose()
    assert not health.ok and health.detail.startswith("config")


async def test_an_impersonation_360_refuses_is_config_error(p360_config: P360Config) -> None:
    client = P360Archive(p360_config.model_copy(update={"context_user": "nobody"}))
    try:
        with pytest.raises(ConfigError, match="impersonate"):
            await client.find_case_files("x")
    finally:
        await client.aclose()


async def test_the_query_form_of_the_authkey_works_too(p360_config: P360Config) -> None:
    client = P360Archive(p360_config.model_copy(update={"auth_in": "query"}))
    try:
        health = await client.health()
        assert health.ok and health.version
        assert await client.find_case_files("nobody:here") == []
    finally:
        await client.aclose()


async def test_the_header_form_needs_the_client_id(p360_config: P360Config) -> None:
    client = P360Archive(p360_config.model_copy(update={"client_id": "someone-else"}))
    try:
        with pytest.raises(ConfigError):
            await client.find_case_files("x")
    finally:
        await client.aclose()


async def test_a_bad_paragraph_setting_is_invalid_input(p360_config: P360Config) -> None:
    client = P360Archive(p360_config.model_copy(update={"screened_paragraph": "Offl. § 99"}))
    try:
        with pytest.raises(InvalidInput, match="Law"):
            await client.ensure_case_file(case_file())
    finally:
        await client.aclose()


async def test_a_500_and_a_transient_sif_message_on_a_read_are_retried(p360: P360Archive,
                                                                      p360_direct: P360Direct) -> None:
    p360_direct.arm(path=GET_CASES, status=500, count=1)
    p360_direct.arm(path=GET_CASES, kind="malformed", count=1,
                    body='{"Successful": false, "ErrorMessage": "Timeout expired.", "ErrorDetails": null}')
    assert await p360.find_case_files("nobody:here") == []


async def test_a_garbled_body_on_a_read_is_retried(p360: P360Archive, p360_direct: P360Direct) -> None:
    p360_direct.arm(path=GET_CASES, kind="malformed", malformed_as="garbage", count=1)
    assert await p360.find_case_files("nobody:here") == []


async def test_a_validation_error_on_a_read_is_not_retried(p360: P360Archive, p360_direct: P360Direct) -> None:
    with pytest.raises(InvalidInput, match="criterion"):
        await p360.rpc.read("CaseService", "GetCases", {})


def test_config_wants_a_client_id_for_the_header_form() -> None:
    with pytest.raises(ValueError, match="client_id"):
        P360Config(base_url="http://x", auth_key=SecretStr("k"))
