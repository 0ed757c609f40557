const rows=Array.from(document.querySelectorAll('#tests tbody tr'));
const buttons=Array.from(document.querySelectorAll('.controls button'));
const search=document.getElementById('search'),shown=document.getElementById('shown');
let mode='all';
function apply(){
  const q=search.value.trim().toLowerCase();let n=0;
  for(const r of rows){
    const ok=(mode==='all'||r.dataset[mode]==='1')&&(!q||r.dataset.text.includes(q));
    r.hidden=!ok;if(ok)n++;
  }
  for(const b of buttons)b.setAttribute('aria-pressed',String(b.dataset.mode===mode));
  shown.textContent=n+' of '+rows.length+' tests shown';
}
for(const b of buttons)b.addEventListener('click',()=>{mode=b.dataset.mode;apply();});
search.addEventListener('input',apply);
apply();
// a link into a grouped failure opens the expander that holds it
function reveal(){
  const id=decodeURIComponent(location.hash.slice(1));const t=id&&document.getElementById(id);
  if(!t)return;let d=t.parentElement&&t.parentElement.closest('details'),opened=false;
  while(d){if(!d.open){d.open=true;opened=true;}d=d.parentElement&&d.parentElement.closest('details');}
  if(opened)t.scrollIntoView();
}
window.addEventListener('hashchange',reveal);reveal();
