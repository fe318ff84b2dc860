#!/usr/bin/env python3
"""Import circles between the files of src/: every 2-cycle and every larger
strongly connected component of the `use` graph (test modules and comments
left out; a mod.rs re-exporting its children is structure, not an import).

    python3 scripts/import_circles.py

ARCHITECTURE.md allows one kind only: a layer and its service."""
import os,re,sys
import os as _os
root=_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), '..', 'src')
root=_os.path.normpath(root)
files={}
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(d,f); files[p]=open(p).read()
def modpath(p):
    rel=p[len(root)+1:-3].split('/')
    if rel[-1] in ('mod','lib'): rel=rel[:-1]
    return rel
mods={tuple(modpath(p)):p for p in files}
def resolve(cur, path):
    # cur: module path list of current file; path: list segments after use
    if path[0]=='crate': base=[]; rest=path[1:]
    elif path[0]=='super':
        base=list(cur); rest=list(path)
        while rest and rest[0]=='super': base=base[:-1]; rest=rest[1:]
    elif path[0]=='self': base=list(cur); rest=path[1:]
    else: return None
    # longest prefix that is a module file
    best=None
    for i in range(len(rest),-1,-1):
        t=tuple(base+rest[:i])
        if t in mods: best=mods[t]; break
    return best
edges=set()
for p,s in files.items():
    # strip test modules
    import re as _re
    m=_re.search(r'#\[cfg\([^\n]*test[^\n]*\)\]\nmod tests', s)
    if m: s=s[:m.start()]
    s='\n'.join(l for l in s.split('\n') if not l.strip().startswith('//'))
    # a mod.rs declaring and re-exporting its children is structure, not an import
    if p.endswith('mod.rs') or p.endswith('lib.rs'):
        s='\n'.join(l for l in s.split('\n') if not _re.match(r'\s*pub(\(crate\))? use (self::)?\w+::', l))
    cur=modpath(p)
    for m in re.finditer(r'\buse\s+((?:crate|super|self)(?:::\w+)*)(?:::\{([^;]*)\})?',s):
        segs=m.group(1).split('::')
        targets=[]
        if m.group(2):
            for item in re.split(r',\s*',m.group(2)):
                item=item.strip()
                if not item: continue
                first=re.split(r'::|\s',item)[0].strip('{')
                targets.append(segs+[first])
        else: targets.append(segs)
        for t in targets:
            r=resolve(cur,t)
            if r and r!=p: edges.add((p,r))
    for m in re.finditer(r'\b(crate(?:::\w+)+)',s):
        r=resolve(cur,m.group(1).split('::'))
        if r and r!=p: edges.add((p,r))
# ignore edges to mod.rs parents used only for re-exports? keep
cyc=sorted({tuple(sorted((a,b))) for a,b in edges if (b,a) in edges})
rel=lambda p: os.path.relpath(p, os.path.dirname(root))
for c in cyc: print('2-cycle:', *map(rel, c))
# strongly connected components
import collections
g=collections.defaultdict(set)
for a,b in edges: g[a].add(b)
index={};low={};st=[];on=set();res=[];i=[0]
sys.setrecursionlimit(10000)
def sc(v):
    index[v]=low[v]=i[0];i[0]+=1;st.append(v);on.add(v)
    for w in g[v]:
        if w not in index: sc(w);low[v]=min(low[v],low[w])
        elif w in on: low[v]=min(low[v],index[w])
    if low[v]==index[v]:
        comp=[]
        while True:
            w=st.pop();on.discard(w);comp.append(w)
            if w==v:break
        if len(comp)>1: res.append(sorted(comp))
for v in list(files):
    if v not in index: sc(v)
for c in res: print('circle:', *map(rel, c))
