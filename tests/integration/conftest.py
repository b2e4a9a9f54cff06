"""Run the whole-stack media tests on both event loops: ``hearth serve`` installs uvloop, whose
transports differ from asyncio's in ways the media engine touches (e.g. no ``_sock``)."""

from __future__ import annotations

import asyncio

import pytest
import uvloop


@pytest.fixture(scope="session", params=["asyncio", "uvloop"])
def event_loop_policy(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoopPolicy:
    if request.param == "uvloop":
        return uvloop.EventLoopPolicy()
    return asyncio.DefaultEventLoopPolicy()
