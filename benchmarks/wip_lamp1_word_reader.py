import collections, numpy as np, re
from lampkit import synth
from lampkit.tasks import get_task
from lampkit.llm_train import _Rankers, relevant_indices
from lampkit.retrievers.dense import Dense
from lampkit.embedding_cache import CachedEncoder
from lampkit.encoders import load_encoder
t=get_task("lamp1"); dev=synth.generate_task(t,"default",0)["dev"]
rk=_Rankers(); dense=Dense(CachedEncoder(load_encoder()))
STOP=set("and the via method in near".split())
def words(s): return set(w for w in re.findall(r"[A-Za-z]+", s) if w not in STOP)
def refs(inp):
    q=re.findall(r'"([^"]*)"', inp); return q[-2], q[-1], q[0]
res=collections.defaultdict(lambda: collections.defaultdict(list))
for i,ex in enumerate(dev):
    r1,r2,title=refs(ex.input)
    orders={"none":[], "bm25":rk.order("bm25",("l",i),t,ex)[:4], "recent":rk.order("recent",("l",i),t,ex)[:4],
            "dense":[int(j) for j in dense.rank(t,ex).order[:4]], "relevant":relevant_indices(ex)[:4]}
    for name,o in orders.items():
        ent=set().union(*[words(ex.profile[j]["title"]) for j in o]) if o else set()
        # reader: title-topic rule first? variant A: pure overlap with entries; ties -> title overlap; ties -> [1]
        s1=len(words(r1)&ent); s2=len(words(r2)&ent)
        t1=len(words(r1)&words(title)); t2=len(words(r2)&words(title))
        if s1!=s2: pred="[1]" if s1>s2 else "[2]"
        elif t1!=t2: pred="[1]" if t1>t2 else "[2]"
        else: pred="tie"
        ok = 0.5 if pred=="tie" else float(pred==ex.output)
        res[name][ex.extra["regime"]].append(ok); res[name]["ALL"].append(ok)
for name,d in res.items():
    print(f"{name:9s}", " ".join(f"{r}:{np.mean(v):.2f}" for r,v in sorted(d.items())))
