#!/usr/bin/env python3
"""The corral configuration of deploy/kubernetes is the `corral.yaml` key of its ConfigMap
(configmap.yaml); the other files there are Kubernetes objects, several YAML documents each,
which `corral check` rejects. This passes that key, alone, to `corral check`.
Usage: check_configmap.py CONFIGMAP CORRAL. Exits 77 (skipped) without PyYAML."""
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("PyYAML (Debian package python3-yaml) is not installed")
    sys.exit(77)

configmap, corral = sys.argv[1], sys.argv[2]
with open(configmap) as f:
    config = yaml.safe_load(f)["data"]["corral.yaml"]
with tempfile.NamedTemporaryFile("w", suffix=".yaml") as out:
    out.write(config)
    out.flush()
    result = subprocess.run([corral, "check", "-c", out.name], capture_output=True, text=True,
                            timeout=30)
print(result.stdout, result.stderr, end="")
sys.exit(0 if result.returncode == 0 and "0 warnings" in result.stdout else 1)
