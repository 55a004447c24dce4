//! What every WIT version's bindings share that does not depend on its types: finding
//! the connector interface's functions once at load, and calling one of them on a
//! fresh instance.

use wasmtime::Store;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower,
    TypedFunc,
};

use super::CallState;

/// The `sluice:connector/connector` functions `names`, found once at load. A call
/// then looks up and typechecks only the function it calls: the generated `Plugin`
/// looks up and typechecks every export on each instantiation, about a tenth of its
/// cost.
pub(super) fn find<const N: usize>(
    component: &Component,
    names: [&str; N],
) -> wasmtime::Result<[ComponentExportIndex; N]> {
    let engine = component.engine();
    let name = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name)
        .find(|name| name.starts_with("sluice:connector/connector@"))
        .ok_or_else(|| wasmtime::format_err!("no sluice:connector/connector export"))?
        .to_string();
    let iface = component
        .get_export_index(None, &name)
        .ok_or_else(|| wasmtime::format_err!("no export {name}"))?;
    let mut found = Vec::with_capacity(N);
    for f in names {
        found.push(
            component
                .get_export_index(Some(&iface), f)
                .ok_or_else(|| wasmtime::format_err!("{name} does not export `{f}`"))?,
        );
    }
    found
        .try_into()
        .map_err(|_| wasmtime::format_err!("export count"))
}

/// A fresh instance's export `f`, typechecked as `P -> R`.
pub(super) async fn func<P, R>(
    pre: &InstancePre<CallState>,
    store: &mut Store<CallState>,
    f: &ComponentExportIndex,
) -> wasmtime::Result<TypedFunc<P, R>>
where
    P: ComponentNamedList + Lower,
    R: ComponentNamedList + Lift,
{
    let instance = pre.instantiate_async(&mut *store).await?;
    instance
        .get_func(&mut *store, f)
        .ok_or_else(|| wasmtime::format_err!("export missing from its instance"))?
        .typed::<P, R>(&*store)
}

/// A component pre-instantiated against one version's linker, with the `N` exports
/// that version has. Each version module names its `Pre` as this type with its own
/// `N` and adds the calls typed by its generated bindings.
pub(super) struct Bound<const N: usize> {
    pre: InstancePre<CallState>,
    exports: [ComponentExportIndex; N],
}

impl<const N: usize> Bound<N> {
    /// `pre` must have been checked by the version's generated `PluginPre::new`.
    pub(super) fn new(
        pre: InstancePre<CallState>,
        component: &Component,
        names: [&str; N],
    ) -> wasmtime::Result<Self> {
        Ok(Bound {
            exports: find(component, names)?,
            pre,
        })
    }

    pub(super) async fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Instance> {
        self.pre.instantiate_async(store).await
    }

    /// A fresh instance's export `names[i]`, typechecked as `P -> R`.
    pub(super) async fn func<P, R>(
        &self,
        store: &mut Store<CallState>,
        i: usize,
    ) -> wasmtime::Result<TypedFunc<P, R>>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        func(&self.pre, store, &self.exports[i]).await
    }
}
