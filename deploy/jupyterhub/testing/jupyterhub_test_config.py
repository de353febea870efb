# TEST ONLY (tests/test_hub_e2e.py): the production config beside this folder, loaded unchanged, plus
# what only a test may do. Never deploy this file: anyone who knows the shared password logs in.
#
#   - DummyAuthenticator with one shared password ($PITFALLS_HUB_TEST_PASSWORD) instead of PAM/SSO;
#   - the proxy from the project's folder ($PITFALLS_HUB_TEST_PROXY, scripts/hub.sh installs it),
#     its API and the hub on free loopback/gateway ports ($PITFALLS_HUB_TEST_PORTS: "proxy_api,hub");
#   - the containers' name prefix ($PITFALLS_HUB_TEST_PREFIX) so two test runs never share a container.
#
# Everything else (network, scorer service, roles, groups, lock-down, hook) is production's, set through
# the same PITFALLS_HUB_* variables: the test's network is an internal user-defined docker network with
# its own subnet, exactly as deploy/jupyterhub/README.md asks production to create.
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub's config loader
load_subconfig(str(Path(__file__).resolve().parent.parent / "jupyterhub_config.py"))  # noqa: F821

api_port, hub_port = (int(p) for p in os.environ["PITFALLS_HUB_TEST_PORTS"].split(","))
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["PITFALLS_HUB_TEST_PASSWORD"]
c.ConfigurableHTTPProxy.command = [os.environ["PITFALLS_HUB_TEST_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{api_port}"
c.JupyterHub.hub_port = hub_port
c.DockerSpawner.prefix = os.environ["PITFALLS_HUB_TEST_PREFIX"]
c.JupyterHub.cleanup_servers = True  # the hub's shutdown stops (and so removes) every container
