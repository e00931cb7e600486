#!/usr/bin/python3
"""The Kubernetes manifests (deploy/k8s), checked structurally: no schema
validator for Kubernetes is packaged in Debian 12 or on npm as a plain tool
(kubeconform and kubeval are not), so this asserts what the README promises:
the kinds and API versions, a StatefulSet with one spool claim per replica
holding the configured spool, a headless Service, a PodDisruptionBudget
whose selector matches the pods, probes on named ports, ports that match the
ConfigMap's configuration, a non-root pod matching the image's user, and
`dane-relay config check` accepting the ConfigMap's TOML.
    k8s_test.py DANE_RELAY_BINARY"""
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
K8S = os.path.join(HERE, "..", "..", "deploy", "k8s")
CONTAINERFILE = os.path.join(HERE, "..", "..", "deploy", "container", "Containerfile")
CMAKELISTS = os.path.join(HERE, "..", "..", "CMakeLists.txt")
BINARY = None

KINDS = {
    "ConfigMap": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
}


def load():
    with open(os.path.join(K8S, "kustomization.yaml"), encoding="utf-8") as f:
        kust = yaml.safe_load(f)
    objs = {}
    for name in kust["resources"]:
        with open(os.path.join(K8S, name), encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                objs[doc["kind"]] = doc
    return kust, objs


def port(addr):
    return int(addr.rsplit(":", 1)[1])


class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kust, cls.objs = load()
        cls.sts = cls.objs["StatefulSet"]
        cls.pod = cls.sts["spec"]["template"]["spec"]
        cls.ctr = cls.pod["containers"][0]
        cls.toml_text = cls.objs["ConfigMap"]["data"]["dane-relay.toml"]
        cls.conf = tomllib.loads(cls.toml_text)

    def test_kinds_and_versions(self):
        self.assertEqual({k: o["apiVersion"] for k, o in self.objs.items()}, KINDS)
        listed = sorted(os.path.basename(p) for p in self.kust["resources"])
        present = sorted(p for p in os.listdir(K8S) if p != "kustomization.yaml")
        self.assertEqual(listed, present, "kustomization.yaml must list every manifest")

    def test_image_tag_is_the_version(self):
        with open(CMAKELISTS, encoding="utf-8") as f:
            version = re.search(r"project\(dane-relay VERSION ([0-9.]+)", f.read())[1]
        self.assertEqual(self.kust["images"][0]["newTag"], version)
        self.assertEqual(self.ctr["image"], self.kust["images"][0]["name"])

    def test_statefulset_spool_claim_per_replica(self):
        spec = self.sts["spec"]
        self.assertGreaterEqual(spec["replicas"], 2, "several relayhosts need several replicas")
        self.assertEqual(spec["serviceName"], self.objs["Service"]["metadata"]["name"])
        claims = {c["metadata"]["name"]: c for c in spec["volumeClaimTemplates"]}
        self.assertIn("spool", claims)
        self.assertEqual(claims["spool"]["spec"]["accessModes"], ["ReadWriteOnce"])
        mounts = {m["name"]: m["mountPath"] for m in self.ctr["volumeMounts"]}
        # A folder of the volume: its root belongs to root on most provisioners,
        # and the relay refuses a spool owned by another user.
        self.assertEqual(os.path.dirname(self.conf["spool"]["dir"]), mounts["spool"])
        self.assertEqual(self.pod["securityContext"]["fsGroup"], 10025)
        self.assertNotIn("spool", {v["name"] for v in self.pod.get("volumes", [])},
                         "the spool must come from the claim template, not a shared volume")

    def test_selectors_match_the_pods(self):
        labels = self.sts["spec"]["template"]["metadata"]["labels"]
        for sel in (self.sts["spec"]["selector"]["matchLabels"],
                    self.objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                    self.objs["Service"]["spec"]["selector"]):
            self.assertTrue(sel and sel.items() <= labels.items(), sel)

    def test_service_is_headless(self):
        self.assertEqual(self.objs["Service"]["spec"]["clusterIP"], "None")

    def test_pdb_allows_a_drain_but_keeps_the_rest(self):
        spec = self.objs["PodDisruptionBudget"]["spec"]
        self.assertEqual(spec.get("maxUnavailable"), 1)

    def test_ports_match_the_configuration(self):
        ports = {p["name"]: p["containerPort"] for p in self.ctr["ports"]}
        self.assertEqual({port(a) for a in self.conf["server"]["listen"]}, {ports["smtp"]})
        self.assertEqual(port(self.conf["metrics"]["listen"]), ports["metrics"])
        svc = {p["name"]: p["port"] for p in self.objs["Service"]["spec"]["ports"]}
        self.assertEqual(svc, ports)
        ann = self.sts["spec"]["template"]["metadata"]["annotations"]
        self.assertEqual(int(ann["prometheus.io/port"]), ports["metrics"])

    def test_probes(self):
        ready, live = self.ctr["readinessProbe"], self.ctr["livenessProbe"]
        self.assertEqual(ready["tcpSocket"]["port"], "smtp")
        self.assertEqual(live["httpGet"], {"path": "/metrics", "port": "metrics"})

    def test_non_root_as_the_image(self):
        with open(CONTAINERFILE, encoding="utf-8") as f:
            user = re.search(r"^USER (\d+):(\d+)$", f.read(), re.M)
        sc = self.pod["securityContext"]
        self.assertTrue(sc["runAsNonRoot"])
        self.assertEqual((sc["runAsUser"], sc["runAsGroup"]), (int(user[1]), int(user[2])))
        self.assertEqual(self.conf["server"]["user"], "", "the pod starts as its user: nothing to drop")
        self.assertEqual(self.conf["log"]["target"], "stderr")

    def test_config_mount_holds_the_configmap(self):
        mounts = {m["name"]: m["mountPath"] for m in self.ctr["volumeMounts"]}
        vols = {v["name"]: v for v in self.pod["volumes"]}
        self.assertEqual(vols["config"]["configMap"]["name"],
                         self.objs["ConfigMap"]["metadata"]["name"])
        self.assertIn(os.path.join(mounts["config"], "dane-relay.toml"), self.ctr["args"])

    def test_config_check_accepts_the_configmap(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(self.toml_text)
            f.flush()
            r = subprocess.run([BINARY, "config", "check", "-c", f.name],
                               capture_output=True, text=True, check=False)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, f"{f.name}: OK"), r.stderr)


if __name__ == "__main__":
    BINARY = sys.argv.pop(1)
    unittest.main()
